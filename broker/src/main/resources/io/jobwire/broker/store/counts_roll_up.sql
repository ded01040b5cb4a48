-- Moves the deltas the count triggers wrote (migration V8) into job_counts, one row per key. Callers hold
-- the advisory lock that makes them take turns, then delete the rows this left at zero.
WITH taken AS (
    DELETE FROM job_count_deltas
    RETURNING owner, type, queue, state, bucket, jobs, attempts, errors
), summed AS (
    SELECT owner, type, queue, state, bucket, sum(jobs) AS jobs, sum(attempts) AS attempts, sum(errors) AS errors
    FROM taken
    GROUP BY owner, type, queue, state, bucket
), merged AS (
    INSERT INTO job_counts AS c (owner, type, queue, state, bucket, jobs, attempts, errors)
    SELECT owner, type, queue, state, bucket, jobs, attempts, errors
    FROM summed
    ON CONFLICT (owner, type, queue, state, bucket) DO UPDATE
    SET jobs = c.jobs + excluded.jobs,
        attempts = c.attempts + excluded.attempts,
        errors = c.errors + excluded.errors
    RETURNING 1
)
SELECT (SELECT count(*) FROM taken) AS deltas, (SELECT count(*) FROM merged) AS counts
