-- QUEUED → HELD: kept, never claimed (its ready entry stays until a claim meets it and drops it).
UPDATE live_jobs
SET state = 'HELD', updated_at = now(), version = version + 1
WHERE id = :id AND state = 'QUEUED' AND (:owner::text IS NULL OR owner = :owner::text)
RETURNING *
