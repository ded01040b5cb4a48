-- Included as "-- @include ready_entry" and followed by a FROM whose rows have id, type, queue, priority and
-- run_at: the ready ring's entry for each job just made QUEUED, in the segment of now.
INSERT INTO job_ready (seg, job_id, type, queue, priority, run_at)
SELECT jobwire_segment(), id, type, queue, priority, run_at
