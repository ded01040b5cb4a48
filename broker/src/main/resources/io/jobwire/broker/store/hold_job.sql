-- QUEUED → HELD: kept, never claimed (its ready entry stays until a claim meets it and drops it).
-- Its place in a key's line goes now: admission passes look at the head of a line only, and a run of held
-- jobs there would stop the key's other jobs; released, the job queues for its key again (unhold_job.sql).
WITH changed AS (
    UPDATE live_jobs
    SET state = 'HELD', updated_at = now(), version = version + 1,
        -- a held job of a concurrency key gives its slot back (of a rate key, its token); released, it waits
        -- for them again
        key_admitted = CASE WHEN concurrency_key IS NULL AND rate_key IS NULL THEN NULL ELSE false END,
        key_slot = CASE WHEN concurrency_key IS NULL THEN NULL ELSE false END
    WHERE id = :id AND state = 'QUEUED' AND (:owner::text IS NULL OR owner = :owner::text)
    RETURNING *
), unlined AS (
    DELETE FROM key_waiting w WHERE w.job_id IN (SELECT id FROM changed WHERE concurrency_key IS NOT NULL)
), unrated AS (
    DELETE FROM rate_waiting w WHERE w.job_id IN (SELECT id FROM changed WHERE rate_key IS NOT NULL)
)
SELECT * FROM changed
