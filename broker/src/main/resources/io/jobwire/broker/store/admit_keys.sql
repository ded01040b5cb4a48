-- Admits the due waiting jobs of each key, in claim order, while the key has a free slot: the slots held
-- are its jobs that hold one (key_slot, live_jobs_key_slots), the limit is the least of its candidates' limits. Runs under
-- the keys' locks (lock_keys.sql), in a statement of its own: its snapshot, taken after the locks, sees
-- every admission made before; a slot given back after it only makes this pass admit less, and the change
-- that gave it back brings its own pass. Admitted jobs get their ready ring entry, or, those of a rate key
-- too, their entry in rate_waiting (the caller gives those keys a pass: admitted rows with a rate_key);
-- entries of jobs that no longer wait (finished, cancelled, running, held) are dropped.
-- Also names the jobs the strategies cancel (the caller cancels them after the commit): a cancel-newest
-- job that finds no free slot ('full'); of cancel-in-progress jobs, all but the newest `limit` waiting,
-- and as many of the oldest slot holders as the newest need ('superseded').
WITH keys AS (
    SELECT DISTINCT k AS key FROM unnest(:keys::text[]) k
), walked AS (
    SELECT k.key, w.job_id, w.priority, w.run_at, j.concurrency_limit,
           j.concurrency_strategy AS strategy, coalesce(j.state = 'QUEUED' AND NOT j.key_slot, false) AS eligible
    FROM keys k
    CROSS JOIN LATERAL (
        SELECT w.job_id, w.priority, w.run_at
        FROM key_waiting w
        WHERE w.key = k.key AND w.run_at <= now()
        ORDER BY w.priority DESC, w.run_at, w.job_id
        LIMIT :walk
    ) w
    LEFT JOIN live_jobs j ON j.id = w.job_id
), held AS MATERIALIZED (
    -- counted once per key: inlined, the count ran once per walked entry (ten times the work at 1,000 keys)
    SELECT k.key, (SELECT count(*) FROM live_jobs j WHERE j.concurrency_key = k.key AND j.key_slot) AS n
    FROM keys k
), limits AS (
    SELECT key, min(concurrency_limit) AS lim FROM walked WHERE eligible GROUP BY key
), decided AS (
    SELECT x.*, l.lim, h.n AS held,
           x.strategy = 'cancel-in-progress'
               AND row_number() OVER (PARTITION BY x.key, x.strategy = 'cancel-in-progress' ORDER BY x.job_id DESC) > l.lim
               AS superseded
    FROM walked x
    JOIN limits l ON l.key = x.key
    JOIN held h ON h.key = x.key
    WHERE x.eligible
), admissible AS (
    SELECT d.*, row_number() OVER (PARTITION BY d.key ORDER BY d.priority DESC, d.run_at, d.job_id) AS place
    FROM decided d
    WHERE NOT d.superseded
), picked AS (
    SELECT job_id FROM admissible WHERE place <= greatest(0, lim - held)
), refused AS (
    SELECT job_id, key, 'full' AS why FROM admissible WHERE place > greatest(0, lim - held) AND strategy = 'cancel-newest'
    UNION ALL
    SELECT job_id, key, 'superseded' FROM decided WHERE superseded
), victims AS (
    SELECT v.id AS job_id, c.key, 'superseded' AS why
    FROM (SELECT key, count(*) AS kept, max(lim) AS lim, max(held) AS held
          FROM admissible WHERE strategy = 'cancel-in-progress' GROUP BY key) c
    CROSS JOIN LATERAL (
        SELECT j.id FROM live_jobs j
        WHERE j.concurrency_key = c.key AND j.key_slot
        ORDER BY j.id
        LIMIT greatest(0, c.held + c.kept - c.lim)
    ) v
), admitted AS (
    UPDATE live_jobs j
    SET key_slot = true, key_admitted = j.rate_key IS NULL
    WHERE j.id = ANY (ARRAY(SELECT job_id FROM picked)) AND j.state = 'QUEUED' AND NOT j.key_slot
    RETURNING j.id, j.type, j.queue, j.state, j.priority, j.run_at, j.concurrency_key, j.rate_key, j.key_admitted, j.key_slot, j.fair_seq
), gone AS (
    DELETE FROM key_waiting w
    WHERE w.job_id = ANY (ARRAY(SELECT job_id FROM walked WHERE NOT eligible
                                UNION ALL
                                SELECT id FROM admitted))
),
-- @include ready_entries(admitted)
SELECT 'admitted' AS what, id AS job_id, concurrency_key AS key, rate_key FROM admitted
UNION ALL
SELECT why, job_id, key, NULL FROM refused
UNION ALL
SELECT why, job_id, key, NULL FROM victims
