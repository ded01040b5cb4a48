-- Claims up to :limit due jobs for one worker stream, at most the per-type quota of each type, highest
-- priority first, then oldest run_at. Rows are chosen and locked in a materialized CTE with SKIP LOCKED,
-- so concurrent claimers (on any broker) never block on or double-claim a job. Each claimed job gets
-- the next attempt number, a fresh random lease token (gen_random_uuid draws from the server's strong
-- random source) and a deadline from the database clock.
WITH wanted AS (
    SELECT w.type, w.quota
    FROM unnest(:types::text[], :quotas::int[]) AS w(type, quota)
), picked AS MATERIALIZED (
    SELECT c.id
    FROM wanted
    CROSS JOIN LATERAL (
        SELECT j.id, j.priority, j.run_at
        FROM jobs j
        WHERE j.state = 'QUEUED'
          AND j.type = wanted.type
          AND j.run_at <= now()
          AND (cardinality(:queues::text[]) = 0 OR j.queue = ANY (:queues::text[]))
        ORDER BY j.priority DESC, j.run_at, j.id
        LIMIT wanted.quota
        FOR UPDATE SKIP LOCKED
    ) c
    ORDER BY c.priority DESC, c.run_at, c.id
    LIMIT :limit
), changed AS (
    UPDATE jobs j
    SET state = 'RUNNING',
        attempt = j.attempt + 1,
        spent_attempts = j.spent_attempts + 1,
        lease_token = gen_random_uuid(),
        lease_expires_at = now() + j.lease_duration_ms * interval '1 millisecond',
        worker_id = :workerId,
        lease_principal = :principal,
        started_at = now(),
        updated_at = now(),
        progress_percent = NULL,
        progress_message = NULL,
        progress_details = NULL,
        progress_at = NULL,
        version = j.version + 1
    FROM picked
    -- By primary key, whatever the statistics say: the array is a restriction of jobs itself, and
    -- state || '' is hidden from the planner (see complete_jobs)
    WHERE j.id = ANY (ARRAY(SELECT id FROM picked)) AND j.id = picked.id AND (j.state || '') = 'QUEUED'
    RETURNING j.*
)
SELECT * FROM changed
ORDER BY priority DESC, run_at, id
