-- The W3C trace context (traceparent, tracestate) of the Submit call that made a job, handed to the
-- worker with each assignment so its handler runs in the producer's trace. Written once at the insert and
-- null for jobs submitted outside a trace, so claims, heartbeats and finishes stay HOT and cost nothing.
ALTER TABLE live_jobs ADD COLUMN trace_parent text, ADD COLUMN trace_state text;
ALTER TABLE job_history ADD COLUMN trace_parent text, ADD COLUMN trace_state text;

CREATE OR REPLACE VIEW jobs AS
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state
FROM live_jobs
UNION ALL
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state
FROM job_history;
