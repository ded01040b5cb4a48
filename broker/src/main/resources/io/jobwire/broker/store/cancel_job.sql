-- QUEUED, HELD or RUNNING → CANCELLED. A running attempt is recorded as cancelled; its worker's later
-- writes fail the lease check because the job is no longer RUNNING. The row is locked first, so
-- `before` holds the state the cancel actually changed (a claim may have committed meanwhile).
WITH before AS MATERIALIZED (
    SELECT id, state
    FROM jobs
    WHERE id = :id
    FOR UPDATE
), cancelled AS (
    UPDATE jobs
    SET state = 'CANCELLED',
        finished_at = now(),
        updated_at = now(),
        last_error = :reason,
        lease_token = NULL,
        lease_expires_at = NULL,
        version = version + 1
    WHERE id = (SELECT id FROM before) AND state IN ('QUEUED', 'RUNNING', 'HELD')
      AND (:owner::text IS NULL OR owner = :owner::text)
    RETURNING *
), history AS (
    INSERT INTO job_attempts AS a (job_id, attempt, worker_id, started_at, finished_at, outcome, error)
    SELECT cancelled.id, cancelled.attempt, cancelled.worker_id, cancelled.started_at, now(), 'cancelled', :reason
    FROM cancelled
    JOIN before ON before.id = cancelled.id
    WHERE before.state = 'RUNNING'
    ON CONFLICT (job_id, attempt) DO UPDATE
        SET finished_at = excluded.finished_at, outcome = excluded.outcome, error = excluded.error
)
SELECT * FROM cancelled
