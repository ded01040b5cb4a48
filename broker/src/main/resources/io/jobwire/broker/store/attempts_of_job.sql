-- A job's attempts, oldest first (see job_attempt_history in migration V5).
SELECT attempt, worker_id, started_at, finished_at, outcome, error
FROM job_attempt_history
WHERE job_id = :id
ORDER BY attempt
