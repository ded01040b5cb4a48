-- Moves the ready entries of paused queues and types out of {ring} (the ring, or one of its segment
-- tables) into ready_parked; returns how many. Entries of a job twice in the ring (a copy left by the ring's
-- move) are parked once. Each entry is locked by the delete: a claim that took one first (it began before
-- the pause) keeps it, the delete then finds it gone.
WITH paused AS MATERIALIZED (
    SELECT kind, name FROM pauses
), moved AS (
    DELETE FROM {ring} r
    WHERE r.queue IN (SELECT name FROM paused WHERE kind = 'queue')
       OR r.type IN (SELECT name FROM paused WHERE kind = 'type')
    RETURNING r.job_id, r.type, r.queue, r.priority, r.fair_seq, r.run_at
), parked AS (
    INSERT INTO ready_parked (job_id, type, queue, priority, fair_seq, run_at)
    SELECT DISTINCT ON (job_id) job_id, type, queue, priority, fair_seq, run_at FROM moved
    ORDER BY job_id
    ON CONFLICT (job_id) DO NOTHING
)
SELECT count(*) FROM moved
