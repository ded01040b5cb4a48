-- Claims up to :limit due jobs for one worker stream, at most the per-type quota of each type, highest
-- priority first, then (a type with fair share) the earliest turn, then oldest run_at. The ready ring's entries are chosen and locked with SKIP LOCKED, so
-- concurrent claimers (on any broker) never block on or double-claim a job, and deleted. Each claimed job gets the
-- next attempt number, a fresh random lease token (gen_random_uuid draws from the server's strong random
-- source), a deadline from the database clock, and an entry in the lease ring for the reaper. Nothing is
-- claimed of a paused type or queue (the pauses table, read once per statement).
WITH claimed_at AS MATERIALIZED (
    -- The attempt's start, read once while the claim runs, after its snapshot: now() is the transaction's
    -- start, which comes before the snapshot by as long as the statement waited for its locks (the ring's
    -- TRUNCATE holds a segment for up to 100 ms) or, after an insert in one transaction, by the insert. A
    -- job admitted into a concurrency slot in that gap would seem to start before the job whose slot it
    -- took had finished.
    SELECT clock_timestamp() AS at
), wanted AS (
    SELECT w.type, w.quota
    FROM unnest(:types::text[], :quotas::int[]) AS w(type, quota)
    WHERE NOT EXISTS (SELECT 1 FROM pauses p WHERE p.kind = 'type' AND p.name = w.type)
), picked AS MATERIALIZED (
    SELECT c.part, c.seg, c.entry, c.job_id, c.priority, c.fair_seq, c.run_at
    FROM wanted
    CROSS JOIN LATERAL (
        SELECT r.tableoid AS part, r.seg, r.ctid AS entry, r.job_id, r.priority, r.fair_seq, r.run_at
        FROM job_ready r
        WHERE r.type = wanted.type
          -- An entry of a job no longer queued (held or cancelled since), or of a concurrency key's job
          -- that gave its slot back (held, then released: it waits in key_waiting), takes no place in
          -- the quota; it stays until its segment's ready entries are moved, which drops it. A subquery,
          -- not a join: one lookup by primary key per entry walked, whatever the planner thinks of the tables.
          -- The row's run_at too: an entry is written with its row's, but one left behind (copied by the
          -- ring's move while a claim took the job) must not start the job early once it is queued again.
          AND (SELECT j.state = 'QUEUED' AND j.key_admitted IS NOT FALSE AND j.run_at <= now()
               FROM live_jobs j WHERE j.id = r.job_id)
          AND r.run_at <= now()
          AND (cardinality(:queues::text[]) = 0 OR r.queue = ANY (:queues::text[]))
          AND r.queue <> ALL (ARRAY(SELECT p.name FROM pauses p WHERE p.kind = 'queue'))
        ORDER BY r.priority DESC, r.fair_seq, r.run_at, r.job_id
        LIMIT wanted.quota
        FOR UPDATE SKIP LOCKED
    ) c
    ORDER BY c.priority DESC, c.fair_seq, c.run_at, c.job_id
    LIMIT :limit
), taken AS (
    -- By row address: each partition looks up the addresses (a TID scan), the pairs pick the right one.
    DELETE FROM job_ready r
    WHERE r.ctid = ANY (ARRAY(SELECT entry FROM picked)) AND r.seg = ANY (ARRAY(SELECT seg FROM picked))
      AND (r.tableoid, r.ctid) IN (SELECT part, entry FROM picked)
), changed AS (
    UPDATE live_jobs j
    SET state = 'RUNNING',
        attempt = j.attempt + 1,
        spent_attempts = j.spent_attempts + 1,
        lease_token = gen_random_uuid(),
        -- capped at the run timeout (least() passes over a null): the reaper looks at the attempt then
        lease_expires_at = (SELECT at FROM claimed_at) + least(j.lease_duration_ms, j.run_timeout_ms) * interval '1 millisecond',
        worker_id = :workerId,
        lease_principal = :principal,
        started_at = (SELECT at FROM claimed_at),
        updated_at = now(),
        progress_percent = NULL,
        progress_message = NULL,
        progress_details = NULL,
        progress_at = NULL,
        version = j.version + 1
    FROM picked
    -- By primary key, whatever the statistics say: the array is a restriction of live_jobs itself
    WHERE j.id = ANY (ARRAY(SELECT job_id FROM picked)) AND j.id = picked.job_id AND j.state = 'QUEUED'
      AND j.key_admitted IS NOT FALSE
    RETURNING j.*
), leased AS (
    -- @include lease_entry
    FROM changed
)
SELECT * FROM changed
ORDER BY priority DESC, fair_seq, run_at, id
