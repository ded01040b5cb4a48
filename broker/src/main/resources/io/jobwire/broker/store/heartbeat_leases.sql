-- Extends each lease by its job's lease duration from now, if it is still valid.
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[]) AS i(id, attempt, token, principal)
)
UPDATE jobs j
SET lease_expires_at = now() + j.lease_duration_ms * interval '1 millisecond'
FROM input i
WHERE j.id = ANY (:ids::bigint[]) -- a restriction of jobs itself: always looked up by primary key
  AND j.id = i.id AND j.attempt = i.attempt AND j.lease_token = i.token
  -- state || '': hidden from the planner, so it finds each job by primary key and never scans
  -- jobs_running_leases (a generic plan, guessing 10 input rows, would often prefer that index)
  AND (j.state || '') = 'RUNNING' AND j.lease_expires_at > now()
  AND (i.principal IS NULL OR j.lease_principal = i.principal)
RETURNING j.id, j.version, j.state, j.attempt, j.run_at, j.type, j.queue, j.owner, j.lease_expires_at
