-- The reaper's choice: RUNNING jobs whose lease has run out, oldest deadline first.
SELECT id
FROM jobs
WHERE state = 'RUNNING' AND lease_expires_at <= now()
ORDER BY lease_expires_at
LIMIT :limit
