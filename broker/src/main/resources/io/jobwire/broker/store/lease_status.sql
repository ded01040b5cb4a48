-- Why fenced writes were refused: the current lease of each job, and whether its latest attempt ran past
-- its run timeout.
SELECT id, state, attempt, lease_token, lease_principal, lease_expires_at, lease_expires_at <= now() AS expired,
       run_timeout_ms, coalesce(started_at + run_timeout_ms * interval '1 millisecond' <= now(), false) AS timed_out
FROM jobs
WHERE id = ANY (:ids::bigint[])
