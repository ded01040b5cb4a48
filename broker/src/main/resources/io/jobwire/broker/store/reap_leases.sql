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
        updated_at = now(),
        version = j.version + 1
    WHERE j.id = ANY (:ids::bigint[]) AND j.state = 'RUNNING' AND j.lease_expires_at <= now()
    RETURNING j.id, j.version, j.state, j.attempt, j.run_at, j.type, j.queue, j.owner, j.lease_expires_at,
              j.last_error, j.worker_id, j.started_at
), history AS (
    -- An attempt's row is written once, when it ends (a running attempt is read from its job).
    -- ON CONFLICT: a row an older broker inserted when it claimed the job.
    INSERT INTO job_attempts AS a (job_id, attempt, worker_id, started_at, finished_at, outcome, error)
    SELECT reaped.id, reaped.attempt, reaped.worker_id, reaped.started_at, now(), 'lease_expired', reaped.last_error
    FROM reaped
    ON CONFLICT (job_id, attempt) DO UPDATE
        SET finished_at = excluded.finished_at, outcome = excluded.outcome, error = excluded.error
)
SELECT * FROM reaped
