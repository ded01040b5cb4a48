-- HELD → QUEUED, keeping its run_at, with a new ready entry.
WITH changed AS (
    UPDATE live_jobs
    SET state = 'QUEUED', updated_at = now(), version = version + 1
    WHERE id = :id AND state = 'HELD' AND (:owner::text IS NULL OR owner = :owner::text)
    RETURNING *
),
-- @include ready_entries(changed)

SELECT * FROM changed
