-- The fence of every worker write, included where a statement says "-- @lease-fence" (as its whole WHERE
-- clause): job j, reached only by primary key, must still be RUNNING the attempt of request i under i's
-- lease token, unexpired, held by i's principal (a null principal: any).
WHERE j.id = ANY (:ids::bigint[]) -- a restriction of jobs itself: always looked up by primary key
  AND j.id = i.id AND j.attempt = i.attempt AND j.lease_token = i.token
  -- state || '': hidden from the planner, so it finds each job by primary key and never scans
  -- jobs_running_leases (a generic plan, guessing 10 input rows, would often prefer that index)
  AND (j.state || '') = 'RUNNING' AND j.lease_expires_at > now()
  AND (i.principal IS NULL OR j.lease_principal = i.principal)
