-- Extends each lease by its job's lease duration from now, if it is still valid.
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[]) AS i(id, attempt, token, principal)
)
UPDATE live_jobs j
SET lease_expires_at = now() + j.lease_duration_ms * interval '1 millisecond'
FROM input i
-- @lease-fence
RETURNING /*@change_row j*/
