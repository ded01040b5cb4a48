-- Finishes jobs successfully, for valid leases only, and closes their attempts.
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[], :results::text[])
             AS i(id, attempt, token, principal, result)
), done AS (
    UPDATE jobs j
    SET state = 'SUCCEEDED',
        result = i.result::jsonb,
        finished_at = now(),
        updated_at = now(),
        lease_token = NULL,
        lease_expires_at = NULL,
        worker_id = NULL,
        lease_principal = NULL,
        version = j.version + 1
    FROM input i
    WHERE j.id = i.id AND j.attempt = i.attempt AND j.lease_token = i.token
      AND j.state = 'RUNNING' AND j.lease_expires_at > now()
      AND (i.principal IS NULL OR j.lease_principal = i.principal)
    RETURNING j.id, j.version, j.state, j.attempt, j.run_at, j.type, j.queue, j.owner, j.lease_expires_at
), history AS (
    UPDATE job_attempts a
    SET finished_at = now(), outcome = 'succeeded'
    FROM done
    WHERE a.job_id = done.id AND a.attempt = done.attempt
)
SELECT * FROM done
