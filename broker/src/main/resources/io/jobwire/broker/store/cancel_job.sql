-- QUEUED, HELD or RUNNING → CANCELLED. A running attempt is closed as cancelled; its worker's later
-- writes fail the lease check because the job is no longer RUNNING.
WITH cancelled AS (
    UPDATE jobs
    SET state = 'CANCELLED',
        finished_at = now(),
        updated_at = now(),
        last_error = :reason,
        lease_token = NULL,
        lease_expires_at = NULL,
        worker_id = NULL,
        lease_principal = NULL,
        version = version + 1
    WHERE id = :id AND state IN ('QUEUED', 'RUNNING', 'HELD') AND (:owner::text IS NULL OR owner = :owner::text)
    RETURNING *
), history AS (
    UPDATE job_attempts a
    SET finished_at = now(), outcome = 'cancelled', error = :reason
    FROM cancelled
    WHERE a.job_id = cancelled.id AND a.attempt = cancelled.attempt AND a.outcome = 'running'
)
SELECT * FROM cancelled
