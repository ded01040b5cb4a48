-- Finishes jobs successfully, for valid leases only. No attempt row: the job row keeps its last
-- attempt, and a job that succeeded never runs again (job_attempt_history reads it from there).
UPDATE jobs j
SET state = 'SUCCEEDED',
    result = i.result::jsonb,
    finished_at = now(),
    updated_at = now(),
    lease_token = NULL,
    lease_expires_at = NULL,
    version = j.version + 1
FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[], :results::text[])
     AS i(id, attempt, token, principal, result)
-- @lease-fence
RETURNING j.id, j.version, j.state, j.attempt, j.run_at, j.type, j.queue, j.owner, j.lease_expires_at
