-- Takes back the chosen jobs whose lease is still expired (checked again here: a completion may have
-- landed since they were chosen). Queued again at once, or FAILED when every attempt is spent.
WITH reaped AS (
    UPDATE jobs j
    SET state = CASE WHEN j.spent_attempts >= j.max_attempts THEN 'FAILED' ELSE 'QUEUED' END,
        run_at = CASE WHEN j.spent_attempts >= j.max_attempts THEN j.run_at ELSE now() END,
        finished_at = CASE WHEN j.spent_attempts >= j.max_attempts THEN now() ELSE NULL END,
        last_error = 'lease expired: worker ' || coalesce(j.worker_id, '?') || ' sent no heartbeat in time',
        errors = j.errors + 1,
        lease_token = NULL,
        lease_expires_at = NULL,
        worker_id = NULL,
        lease_principal = NULL,
        updated_at = now(),
        version = j.version + 1
    WHERE j.id = ANY (:ids::bigint[]) AND j.state = 'RUNNING' AND j.lease_expires_at <= now()
    RETURNING j.id, j.version, j.state, j.attempt, j.run_at, j.type, j.queue, j.owner, j.lease_expires_at,
              j.last_error
), history AS (
    UPDATE job_attempts a
    SET finished_at = now(), outcome = 'lease_expired', error = reaped.last_error
    FROM reaped
    WHERE a.job_id = reaped.id AND a.attempt = reaped.attempt
)
SELECT * FROM reaped
