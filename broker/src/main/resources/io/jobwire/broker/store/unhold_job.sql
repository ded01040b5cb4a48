-- HELD → QUEUED, keeping its run_at.
UPDATE jobs
SET state = 'QUEUED', updated_at = now(), version = version + 1
WHERE id = :id AND state = 'HELD' AND (:owner::text IS NULL OR owner = :owner::text)
RETURNING *
