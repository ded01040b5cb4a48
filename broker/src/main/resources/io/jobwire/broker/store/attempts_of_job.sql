-- A job's attempts, oldest first: the finished ones from job_attempts (written when each ended), and
-- the running one, if any, from the job itself.
SELECT attempt, worker_id, started_at, finished_at, outcome, error
FROM job_attempts
WHERE job_id = :id
UNION ALL
SELECT j.attempt, j.worker_id, j.started_at, NULL, 'running', NULL
FROM jobs j
WHERE j.id = :id AND j.state = 'RUNNING'
  AND NOT EXISTS (SELECT 1 FROM job_attempts a WHERE a.job_id = j.id AND a.attempt = j.attempt)
ORDER BY attempt
