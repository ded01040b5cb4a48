-- Gives jobs back unharmed, for valid leases only: queued again at once with a new ready entry, and the
-- attempt is refunded.
WITH input AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :tokens::uuid[], :principals::text[], :reasons::text[])
             AS i(id, attempt, token, principal, reason)
), changed AS (
    UPDATE live_jobs j
    SET state = 'QUEUED',
        run_at = now(),
        releases = j.releases + 1,
        spent_attempts = greatest(j.spent_attempts - 1, 0),
        lease_token = NULL,
        lease_expires_at = NULL,
        -- a job of a rate key needs a token for each start: it waits for one again
        key_admitted = CASE WHEN j.rate_key IS NULL THEN j.key_admitted ELSE false END,
        updated_at = now(),
        version = j.version + 1
    FROM input i
    -- @lease-fence
    RETURNING /*@change_row j*/,
              j.worker_id, j.started_at, j.priority, j.key_admitted, j.key_slot, j.fair_seq
),
-- @include ready_entries(changed)
, ended AS (
    SELECT changed.id, changed.attempt, changed.worker_id, changed.started_at, 'released' AS outcome, i.reason AS error
    FROM changed
    JOIN input i ON i.id = changed.id
), history AS (
    -- @include attempt_ended
)
SELECT /*@change_row*/ FROM changed
