-- Records failed attempts, for valid leases only. A retryable failure with attempts left is queued again
-- after min(max, initial * 2^(n-1)) * jitter (or the worker's own delay); anything else ends FAILED.
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
    JOIN jobs j ON j.id = i.id
    WHERE j.id = ANY (:ids::bigint[])
), changed AS (
    UPDATE jobs j
    SET state = CASE WHEN i.will_retry THEN 'QUEUED' ELSE 'FAILED' END,
        run_at = CASE WHEN i.will_retry THEN now() + i.backoff_ms * interval '1 millisecond' ELSE j.run_at END,
        finished_at = CASE WHEN i.will_retry THEN NULL ELSE now() END,
        last_error = i.error,
        errors = j.errors + 1,
        lease_token = NULL,
        lease_expires_at = NULL,
        updated_at = now(),
        version = j.version + 1
    FROM decided i
    -- @lease-fence
    RETURNING j.id, j.version, j.state, j.attempt, j.run_at, j.type, j.queue, j.owner, j.lease_expires_at,
              j.last_error, j.worker_id, j.started_at
), history AS (
    -- An attempt's row is written once, when it ends (a running attempt is read from its job).
    -- ON CONFLICT: a row an older broker inserted when it claimed the job.
    INSERT INTO job_attempts AS a (job_id, attempt, worker_id, started_at, finished_at, outcome, error)
    SELECT changed.id, changed.attempt, changed.worker_id, changed.started_at, now(), 'failed', changed.last_error
    FROM changed
    ON CONFLICT (job_id, attempt) DO UPDATE
        SET finished_at = excluded.finished_at, outcome = excluded.outcome, error = excluded.error
)
SELECT * FROM changed
