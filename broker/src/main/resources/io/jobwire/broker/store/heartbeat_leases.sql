-- Extends each lease by its job's lease duration from now, if it is still valid, but never past the
-- attempt's run timeout (least() passes over a null).
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[]) AS i(id, attempt, token, principal)
)
UPDATE live_jobs j
SET lease_expires_at = least(now() + j.lease_duration_ms * interval '1 millisecond',
                             j.started_at + j.run_timeout_ms * interval '1 millisecond')
FROM input i
-- @lease-fence
RETURNING /*@change_row j*/
