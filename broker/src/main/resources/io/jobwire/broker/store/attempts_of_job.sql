SELECT attempt, worker_id, started_at, finished_at, outcome, error
FROM job_attempts
WHERE job_id = :id
ORDER BY attempt
