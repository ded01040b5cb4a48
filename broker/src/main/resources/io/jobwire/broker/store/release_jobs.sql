-- Gives jobs back unharmed, for valid leases only: queued again at once, and the attempt is refunded.
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[], :reasons::text[])
             AS i(id, attempt, token, principal, reason)
), released AS (
    UPDATE jobs j
    SET state = 'QUEUED',
        run_at = now(),
        releases = j.releases + 1,
        spent_attempts = greatest(j.spent_attempts - 1, 0),
        lease_token = NULL,
        lease_expires_at = NULL,
        worker_id = NULL,
        lease_principal = NULL,
        updated_at = now(),
        version = j.version + 1
    FROM input i
    WHERE j.id = i.id AND j.attempt = i.attempt AND j.lease_token = i.token
      AND j.state = 'RUNNING' AND j.lease_expires_at > now()
      AND (i.principal IS NULL OR j.lease_principal = i.principal)
    RETURNING j.id, j.version, j.state, j.attempt, j.run_at, j.type, j.queue, j.owner, j.lease_expires_at
), history AS (
    UPDATE job_attempts a
    SET finished_at = now(), outcome = 'released', error = i.reason
    FROM released
    JOIN input i ON i.id = released.id
    WHERE a.job_id = released.id AND a.attempt = released.attempt
)
SELECT * FROM released
