-- Why fenced writes were refused: the current lease of each job.
SELECT id, state, attempt, lease_token, lease_principal, lease_expires_at, lease_expires_at <= now() AS expired
FROM jobs
WHERE id = ANY (:ids::bigint[])
