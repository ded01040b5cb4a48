-- Included as "-- @include ready_entries(<rows>)" between two CTEs: for each job of <rows> just made
-- QUEUED (columns id, type, queue, state, priority, run_at, concurrency_key, rate_key, key_admitted, key_slot,
-- fair_seq; rows of another state, a WAITING job's, are passed over), its ready ring entry in the segment
-- of now; or, for a gated job (a concurrency key or a rate key: key_admitted is not null) that is not
-- admitted, its entry in key_waiting (a concurrency key's job without a slot) or rate_waiting (a rate
-- key's job without a token: one of both keys once it holds its slot), where admission (admit_keys.sql,
-- admit_rates.sql) takes it from. Defines the CTEs ready, gated and rated.
-- A fair type's entry scheduled for later sorts after the due ones (jobwire_fair_later()) until the ring's
-- compaction finds it due and gives it its turn.
ready AS (
    INSERT INTO job_ready (seg, job_id, type, queue, priority, fair_seq, run_at)
    SELECT jobwire_segment(), id, type, queue, priority,
           CASE WHEN fair_seq <> 0 AND run_at > now() THEN jobwire_fair_later() ELSE fair_seq END, run_at
    FROM {rows}
    WHERE key_admitted IS NOT FALSE AND state = 'QUEUED'
), gated AS (
    INSERT INTO key_waiting (job_id, key, priority, run_at)
    SELECT id, concurrency_key, priority, run_at
    FROM {rows}
    WHERE concurrency_key IS NOT NULL AND NOT key_slot AND state = 'QUEUED'
    ON CONFLICT (job_id) DO NOTHING
), rated AS (
    INSERT INTO rate_waiting (job_id, key, priority, run_at)
    SELECT id, rate_key, priority, run_at
    FROM {rows}
    WHERE rate_key IS NOT NULL AND NOT key_admitted AND key_slot IS NOT FALSE AND state = 'QUEUED'
    ON CONFLICT (job_id) DO NOTHING
)
