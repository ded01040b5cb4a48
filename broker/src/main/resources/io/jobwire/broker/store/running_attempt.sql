-- The attempt a job runs now, for checking a job token: the job is RUNNING, and the lease is checked on the
-- database clock (a lease that ran out ended the attempt even before the reaper took the job back).
SELECT id, attempt, lease_token, owner, type, lease_expires_at > now() AS unexpired
FROM live_jobs
WHERE id = :id AND state = 'RUNNING'
