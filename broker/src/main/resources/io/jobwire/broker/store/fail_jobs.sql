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
), failed AS (
    UPDATE jobs j
    SET state = CASE WHEN d.will_retry THEN 'QUEUED' ELSE 'FAILED' END,
        run_at = CASE WHEN d.will_retry THEN now() + d.backoff_ms * interval '1 millisecond' ELSE j.run_at END,
        finished_at = CASE WHEN d.will_retry THEN NULL ELSE now() END,
        last_error = d.error,
        errors = j.errors + 1,
        lease_token = NULL,
        lease_expires_at = NULL,
        worker_id = NULL,
        lease_principal = NULL,
        updated_at = now(),
        version = j.version + 1
    FROM decided d
    WHERE j.id = d.id AND j.attempt = d.attempt AND j.lease_token = d.token
      AND j.state = 'RUNNING' AND j.lease_expires_at > now()
      AND (d.principal IS NULL OR j.lease_principal = d.principal)
    RETURNING j.id, j.version, j.state, j.attempt, j.run_at, j.type, j.queue, j.owner, j.lease_expires_at,
              j.last_error
), history AS (
    UPDATE job_attempts a
    SET finished_at = now(), outcome = 'failed', error = failed.last_error
    FROM failed
    WHERE a.job_id = failed.id AND a.attempt = failed.attempt
)
SELECT * FROM failed
