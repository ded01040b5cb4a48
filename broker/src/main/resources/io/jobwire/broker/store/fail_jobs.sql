-- Records failed attempts, for valid leases only. A retryable failure with attempts left is queued again
-- after min(max, initial * 2^(n-1)) * jitter (or the worker's own delay), with a new ready entry;
-- anything else ends FAILED and moves to job_history.
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[], :errors::text[],
                         :retryable::boolean[], :delays::bigint[], :jitters::float8[])
             AS i(id, attempt, token, principal, error, retryable, delay_ms, jitter)
), decided AS (
    SELECT i.*,
           (i.retryable AND j.spent_attempts < j.max_attempts) AS will_retry,
           coalesce(i.delay_ms,
                    (least(coalesce(j.retry_max_ms, :defaultMaxMs)::float8,
                           coalesce(j.retry_initial_ms, :defaultInitialMs)
                               * power(2::float8, least(greatest(j.spent_attempts - 1, 0), 40)))
                     * i.jitter)::bigint) AS backoff_ms
    FROM input i
    JOIN live_jobs j ON j.id = i.id
    WHERE j.id = ANY (:ids::bigint[])
), requeued AS (
    UPDATE live_jobs j
    SET state = 'QUEUED',
        run_at = now() + i.backoff_ms * interval '1 millisecond',
        last_error = i.error,
        errors = j.errors + 1,
        lease_token = NULL,
        lease_expires_at = NULL,
        -- a job of a rate key needs a token for each start: it waits for one again
        key_admitted = CASE WHEN j.rate_key IS NULL THEN j.key_admitted ELSE false END,
        updated_at = now(),
        version = j.version + 1
    FROM (SELECT * FROM decided WHERE will_retry) i
    -- @lease-fence
    RETURNING /*@change_row j*/,
              j.last_error, j.worker_id, j.started_at, j.priority, j.key_admitted, j.key_slot, j.fair_seq
), finishing AS (
    DELETE FROM live_jobs j
    USING (SELECT * FROM decided WHERE NOT will_retry) i
    -- @lease-fence
    RETURNING j.*, 'FAILED'::text AS final_state, j.result AS final_result, i.error AS final_error, 1 AS final_errors
), moved AS (
    -- @include finish_into_history
    RETURNING /*@change_row*/, last_error, worker_id, started_at
),
-- @include ready_entries(requeued)
, ended AS (
    SELECT id, attempt, worker_id, started_at, 'failed' AS outcome, last_error AS error FROM requeued
    UNION ALL
    SELECT id, attempt, worker_id, started_at, 'failed', last_error FROM moved
), history AS (
    -- @include attempt_ended
)
SELECT /*@change_row*/ FROM requeued
UNION ALL
SELECT /*@change_row*/ FROM moved
