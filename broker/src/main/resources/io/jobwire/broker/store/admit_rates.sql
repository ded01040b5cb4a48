-- Admits the due waiting jobs of each rate key, in claim order, one token each. Runs after lock_rates.sql,
-- in a statement of its own, so its snapshot sees every admission made before. The key's tokens are
-- refilled from refilled_at to now at per_second, up to burst less what the last pass left held (admitted,
-- not started: it can only have fallen since, as workers took them, and a token that accrued while the
-- bucket was full is not there to spend). Then held = admitted and not started now. A key with no limit
-- (deleted since its jobs were submitted) admits them all. A job of a concurrency key too waits here only
-- once it holds its key's slot. Entries of jobs that no longer wait are dropped. Returns, per key: jobs admitted, jobs still waiting
-- (due, of those looked at), the tokens left, the limit (rate and burst) and held.
WITH keys AS (
    SELECT DISTINCT k AS key FROM unnest(:keys::text[]) k
), clock AS MATERIALIZED (
    SELECT clock_timestamp() AS at
), levels AS (
    SELECT r.key, r.per_second,
           greatest(0, least(r.burst - r.held,
                             r.tokens + extract(epoch FROM c.at - r.refilled_at)::float8 * r.per_second)) AS tokens,
           (SELECT count(*) FROM live_jobs j
            WHERE j.rate_key = r.key AND j.key_admitted AND j.state = 'QUEUED') AS unstarted
    FROM rate_limits r
    CROSS JOIN clock c
    WHERE r.key IN (SELECT key FROM keys)
), walked AS (
    -- the head of each key's line: as many as its tokens allow and a few more (to tell whether more wait,
    -- and to step over entries of jobs gone meanwhile); :walk for a key without a limit
    SELECT k.key, w.job_id, w.priority, w.run_at,
           coalesce(j.state = 'QUEUED' AND NOT j.key_admitted AND j.key_slot IS NOT FALSE, false) AS eligible
    FROM keys k
    LEFT JOIN levels l ON l.key = k.key
    CROSS JOIN LATERAL (
        SELECT w.job_id, w.priority, w.run_at
        FROM rate_waiting w
        WHERE w.key = k.key AND w.run_at <= now()
        ORDER BY w.priority DESC, w.run_at, w.job_id
        LIMIT CASE WHEN l.key IS NULL THEN :walk ELSE least(:walk, floor(l.tokens)::int + :slack) END
    ) w
    LEFT JOIN live_jobs j ON j.id = w.job_id
), admissible AS (
    SELECT x.*, row_number() OVER (PARTITION BY x.key ORDER BY x.priority DESC, x.run_at, x.job_id) AS place
    FROM walked x
    WHERE x.eligible
), picked AS (
    SELECT a.job_id
    FROM admissible a
    LEFT JOIN levels l ON l.key = a.key
    WHERE l.key IS NULL OR a.place <= floor(l.tokens)
), admitted AS (
    UPDATE live_jobs j
    SET key_admitted = true
    WHERE j.id = ANY (ARRAY(SELECT job_id FROM picked)) AND j.state = 'QUEUED' AND NOT j.key_admitted
      AND j.key_slot IS NOT FALSE
    RETURNING j.id, j.type, j.queue, j.state, j.priority, j.run_at, j.concurrency_key, j.rate_key, j.key_admitted, j.key_slot, j.fair_seq
), spent AS (
    UPDATE rate_limits r
    SET tokens = l.tokens - (SELECT count(*) FROM admitted a WHERE a.rate_key = r.key),
        held = l.unstarted + (SELECT count(*) FROM admitted a WHERE a.rate_key = r.key),
        refilled_at = c.at
    FROM levels l, clock c
    WHERE r.key = l.key
    RETURNING r.key, r.tokens, r.per_second, r.burst, r.held
), gone AS (
    DELETE FROM rate_waiting w
    WHERE w.job_id = ANY (ARRAY(SELECT job_id FROM walked WHERE NOT eligible
                                UNION ALL
                                SELECT id FROM admitted))
),
-- @include ready_entries(admitted)
SELECT k.key,
       (SELECT count(*) FROM admitted a WHERE a.rate_key = k.key) AS admitted,
       (SELECT count(*) FROM admissible a WHERE a.key = k.key) - (SELECT count(*) FROM admitted a WHERE a.rate_key = k.key)
           AS waiting,
       s.tokens,
       s.per_second,
       s.burst,
       s.held
FROM keys k
LEFT JOIN spent s ON s.key = k.key
