-- QUEUED → HELD: kept, never claimed (its ready entry stays until a claim meets it and drops it).
UPDATE live_jobs
SET state = 'HELD', updated_at = now(), version = version + 1,
    -- a held job of a concurrency key gives its slot back (of a rate key, its token); released, it waits
    -- for one again
    key_admitted = CASE WHEN concurrency_key IS NULL AND rate_key IS NULL THEN NULL ELSE false END
WHERE id = :id AND state = 'QUEUED' AND (:owner::text IS NULL OR owner = :owner::text)
RETURNING *
