-- Job dependencies: a job submitted with depends_on is WAITING until every job it names has SUCCEEDED,
-- then QUEUED (with its ready entry, or its line for a key); when one of them ends FAILED or CANCELLED it
-- is cancelled, or, with on_dependency_failure = 'run', runs once they have all finished.
--   depends_on               the ids as submitted, kept with the job (written once, in history too)
--   job_dependencies         the dependencies not yet resolved, one row per (waiting job, job it waits
--                            for): written with the job, deleted when the job leaves WAITING. Looked up by
--                            depends_on when jobs finish (DependencyResolver), so only dependents cost.
-- WAITING jobs have no ready entry: claims never meet them.
ALTER TABLE live_jobs DROP CONSTRAINT live_jobs_state_check;
ALTER TABLE live_jobs ADD CONSTRAINT live_jobs_state_check CHECK (state IN ('QUEUED', 'RUNNING', 'HELD', 'WAITING'));
ALTER TABLE live_jobs ADD COLUMN depends_on bigint[],
    ADD COLUMN on_dependency_failure text CHECK (on_dependency_failure IN ('cancel', 'run'));
ALTER TABLE job_history ADD COLUMN depends_on bigint[], ADD COLUMN on_dependency_failure text;

CREATE TABLE job_dependencies (
    job_id     bigint NOT NULL,
    depends_on bigint NOT NULL,
    PRIMARY KEY (job_id, depends_on)
);
CREATE INDEX job_dependencies_on ON job_dependencies (depends_on);

CREATE OR REPLACE VIEW jobs AS
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
       concurrency_key, concurrency_limit, concurrency_strategy, key_admitted, rate_key, depends_on, on_dependency_failure
FROM live_jobs
UNION ALL
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
       concurrency_key, concurrency_limit, concurrency_strategy, key_admitted, rate_key, depends_on, on_dependency_failure
FROM job_history;

-- An attempt whose handler submitted jobs and finished its part with AwaitJobs: the job waits for them,
-- then runs again (the attempt is refunded, as a release).
ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_outcome_check;
ALTER TABLE job_attempts ADD CONSTRAINT job_attempts_outcome_check
    CHECK (outcome IN ('running', 'succeeded', 'failed', 'lease_expired', 'released', 'cancelled', 'timed_out', 'awaiting'));
