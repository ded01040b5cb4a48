-- Jobs a running job submits with its job token (the token each assignment carries) record that job as
-- their parent. The column never changes after the insert, so the updates of a claim, a heartbeat or a
-- release stay HOT; the partial indexes hold only jobs that have a parent, so the others cost nothing.
ALTER TABLE live_jobs ADD COLUMN parent_id bigint;
ALTER TABLE job_history ADD COLUMN parent_id bigint;
CREATE INDEX live_jobs_parent_id ON live_jobs (parent_id, id) WHERE parent_id IS NOT NULL;
CREATE INDEX job_history_parent_id ON job_history (parent_id, id) WHERE parent_id IS NOT NULL;

CREATE OR REPLACE VIEW jobs AS
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id
FROM live_jobs
UNION ALL
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id
FROM job_history;
