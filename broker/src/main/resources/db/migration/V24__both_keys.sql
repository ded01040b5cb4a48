-- A job may name a concurrency key and a rate key together (V18 and V19 took one or the other). It waits
-- for a slot of its concurrency key first (key_waiting), then, holding the slot, for a token of its rate
-- key (rate_waiting), then enters the ready ring. key_slot says whether a job of a concurrency key holds
-- one of its key's slots (null for a job without one); key_admitted keeps its meaning for the claims and
-- the rate limits: let through every gate. For a job with only a concurrency key the two are equal; a job
-- with both holds its slot from its key's admission, and its token from the rate's, until it finishes
-- (a retry or a release keeps the slot and waits for a token again; a hold gives both back).
-- Like key_admitted it is written by admission and hold, for keyed jobs only: claims, heartbeats and
-- finishes leave it alone, so they stay HOT. A finished job holds no slot: in history it is always null,
-- there so that a row of either table reads the same (as key_admitted, V18).
ALTER TABLE live_jobs ADD COLUMN key_slot boolean;
ALTER TABLE job_history ADD COLUMN key_slot boolean;
UPDATE live_jobs SET key_slot = key_admitted WHERE concurrency_key IS NOT NULL;

-- The slots held per key, counted by admission under the key's advisory lock.
DROP INDEX live_jobs_key_slots;
CREATE INDEX live_jobs_key_slots ON live_jobs (concurrency_key) WHERE key_slot;

CREATE OR REPLACE VIEW jobs AS
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
       concurrency_key, concurrency_limit, concurrency_strategy, key_admitted, rate_key, depends_on, on_dependency_failure,
       key_slot
FROM live_jobs
UNION ALL
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
       concurrency_key, concurrency_limit, concurrency_strategy, key_admitted, rate_key, depends_on, on_dependency_failure,
       key_slot
FROM job_history;
