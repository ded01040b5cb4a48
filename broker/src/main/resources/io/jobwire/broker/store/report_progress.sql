-- Stores progress and extends the lease, for valid leases only.
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[], :percents::real[],
                         :messages::text[], :details::text[])
             AS i(id, attempt, token, principal, percent, message, details)
), changed AS (
    UPDATE jobs j
    SET progress_percent = i.percent,
        progress_message = i.message,
        progress_details = i.details::jsonb,
        progress_at = now(),
        lease_expires_at = now() + j.lease_duration_ms * interval '1 millisecond',
        updated_at = now(),
        version = j.version + 1
    FROM input i
    WHERE j.id = ANY (:ids::bigint[]) -- a restriction of jobs itself: always looked up by primary key
      AND j.id = i.id AND j.attempt = i.attempt AND j.lease_token = i.token
      -- state || '': hidden from the planner, so it finds each job by primary key and never scans
      -- jobs_running_leases (a generic plan, guessing 10 input rows, would often prefer that index)
      AND (j.state || '') = 'RUNNING' AND j.lease_expires_at > now()
      AND (i.principal IS NULL OR j.lease_principal = i.principal)
    RETURNING j.id, j.version, j.state, j.attempt, j.run_at, j.type, j.queue, j.owner, j.lease_expires_at
)
SELECT * FROM changed
