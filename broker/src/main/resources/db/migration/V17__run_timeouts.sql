-- A hard limit on one attempt's run time, apart from the lease: an attempt may run until started_at +
-- run_timeout_ms however often its worker heartbeats. The claim and every lease extension cap the lease
-- at that instant, so the reaper looks at the attempt then and takes it back as 'timed_out' (a retryable
-- failure, with the job's backoff). Written once at the insert and null for most jobs, so claims,
-- heartbeats and finishes stay HOT updates.
ALTER TABLE live_jobs ADD COLUMN run_timeout_ms bigint;
ALTER TABLE job_history ADD COLUMN run_timeout_ms bigint;
-- a registered type's default for its jobs
ALTER TABLE type_registry ADD COLUMN default_run_timeout_ms bigint;

ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_outcome_check;
ALTER TABLE job_attempts ADD CONSTRAINT job_attempts_outcome_check
    CHECK (outcome IN ('running', 'succeeded', 'failed', 'lease_expired', 'released', 'cancelled', 'timed_out'));

CREATE OR REPLACE VIEW jobs AS
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state, run_timeout_ms
FROM live_jobs
UNION ALL
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state, run_timeout_ms
FROM job_history;
