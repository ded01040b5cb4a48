-- Concurrency keys: at most concurrency_limit jobs of one key hold a slot at once, across all brokers. A
-- keyed job is admitted (key_admitted = true: it holds a slot) before it enters the ready ring; until then
-- it waits in key_waiting, in claim order per key, so claims never walk past it and a busy key holds up no
-- other. It keeps its slot through retries and releases; it gives it back when it leaves live_jobs
-- (finished, cancelled) or is held. The columns are written once at the insert (key_admitted by admission
-- and hold, for keyed jobs only), and null for unkeyed jobs: their claims, heartbeats and finishes stay HOT.
ALTER TABLE live_jobs ADD COLUMN concurrency_key text, ADD COLUMN concurrency_limit int,
    ADD COLUMN concurrency_strategy text CHECK (concurrency_strategy IN ('queue', 'cancel-newest', 'cancel-in-progress')),
    ADD COLUMN key_admitted boolean;
-- key_admitted is always null in history (a finished job holds no slot); it is there so that a row of
-- either table reads the same.
-- a registered type's defaults for its jobs
ALTER TABLE type_registry ADD COLUMN default_concurrency_key text, ADD COLUMN default_concurrency_limit int,
    ADD COLUMN default_concurrency_strategy text;

ALTER TABLE job_history ADD COLUMN concurrency_key text, ADD COLUMN concurrency_limit int,
    ADD COLUMN concurrency_strategy text, ADD COLUMN key_admitted boolean;

-- The slots held per key: admission counts them under the key's advisory lock. Only admitted jobs are
-- in it, so unkeyed rows cost nothing but the predicate at their insert.
CREATE INDEX live_jobs_key_slots ON live_jobs (concurrency_key) WHERE key_admitted;

-- Keyed jobs waiting for a slot, in claim order per key (an entry is a hint, the row is the truth: an
-- entry whose job is no longer QUEUED without a slot is passed over and dropped).
CREATE TABLE key_waiting (
    job_id   bigint      PRIMARY KEY,
    key      text        NOT NULL,
    priority int         NOT NULL,
    run_at   timestamptz NOT NULL
);
CREATE INDEX key_waiting_order ON key_waiting (key, priority DESC, run_at, job_id);

CREATE OR REPLACE VIEW jobs AS
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
       concurrency_key, concurrency_limit, concurrency_strategy, key_admitted
FROM live_jobs
UNION ALL
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
       concurrency_key, concurrency_limit, concurrency_strategy, key_admitted
FROM job_history;
