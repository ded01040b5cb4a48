-- Included as "-- @include ready_entries(<rows>)" between two CTEs: for each job of <rows> just made
-- QUEUED (columns id, type, queue, priority, run_at, concurrency_key, key_admitted), its ready ring entry
-- in the segment of now; or, for a job of a concurrency key that holds no slot, its entry in key_waiting,
-- where admission (admit_keys.sql) takes it from. Defines the CTEs ready and gated.
ready AS (
    INSERT INTO job_ready (seg, job_id, type, queue, priority, run_at)
    SELECT jobwire_segment(), id, type, queue, priority, run_at
    FROM {rows}
    WHERE concurrency_key IS NULL OR key_admitted
), gated AS (
    INSERT INTO key_waiting (job_id, key, priority, run_at)
    SELECT id, concurrency_key, priority, run_at
    FROM {rows}
    WHERE concurrency_key IS NOT NULL AND NOT key_admitted
    ON CONFLICT (job_id) DO NOTHING
)
