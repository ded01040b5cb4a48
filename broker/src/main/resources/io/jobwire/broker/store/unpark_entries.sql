-- Moves the parked entries of queues and types no longer paused (neither the queue nor the type) back into
-- the ring's segment of now, those of jobs still queued and let through their keys; the others are
-- dropped (a claim never needed them: a cancelled job's, or a held one's, which its release writes anew).
-- Returns how many went back.
WITH paused AS MATERIALIZED (
    SELECT kind, name FROM pauses
), moved AS (
    DELETE FROM ready_parked p
    WHERE p.queue NOT IN (SELECT name FROM paused WHERE kind = 'queue')
      AND p.type NOT IN (SELECT name FROM paused WHERE kind = 'type')
    RETURNING p.job_id, p.type, p.queue, p.priority, p.fair_seq, p.run_at
), back AS (
    INSERT INTO job_ready (seg, job_id, type, queue, priority, fair_seq, run_at)
    SELECT jobwire_segment(), m.job_id, m.type, m.queue, m.priority, m.fair_seq, m.run_at
    FROM moved m
    WHERE EXISTS (SELECT 1 FROM live_jobs j WHERE j.id = m.job_id AND j.state = 'QUEUED' AND j.key_admitted IS NOT FALSE)
    RETURNING 1
)
SELECT count(*) FROM back
