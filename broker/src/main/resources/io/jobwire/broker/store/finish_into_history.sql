-- Included where a statement says "-- @include finish_into_history": moves the rows of its CTE `finishing`
-- (rows just deleted from live_jobs, RETURNING j.* plus final_state, final_result, final_error and
-- final_errors) into job_history, finished now, in the same statement and commit as the delete. The
-- including statement follows it with its RETURNING.
INSERT INTO job_history (id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key,
                         max_attempts, attempt, spent_attempts, releases, errors, lease_duration_ms,
                         retry_initial_ms, retry_max_ms, lease_token, lease_expires_at, worker_id,
                         progress_percent, progress_message, progress_details, progress_at, result, last_error,
                         created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
                         callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
                         concurrency_key, concurrency_limit, concurrency_strategy, rate_key, depends_on,
                         on_dependency_failure)
SELECT f.id, f.type, f.queue, f.final_state, f.priority, f.run_at, f.payload, f.labels, f.owner, f.idempotency_key,
       f.max_attempts, f.attempt, f.spent_attempts, f.releases, f.errors + f.final_errors, f.lease_duration_ms,
       f.retry_initial_ms, f.retry_max_ms, NULL, NULL, f.worker_id,
       f.progress_percent, f.progress_message, f.progress_details, f.progress_at, f.final_result, f.final_error,
       f.created_at, now(), f.started_at, now(), f.version + 1, f.lease_principal, f.parent_id, f.callback_url, f.callback_all,
       f.trace_parent, f.trace_state, f.run_timeout_ms, f.concurrency_key, f.concurrency_limit, f.concurrency_strategy,
       f.rate_key, f.depends_on, f.on_dependency_failure
FROM finishing f
