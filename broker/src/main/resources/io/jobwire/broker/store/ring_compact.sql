-- Moves the ready entries still in an old segment (jobs scheduled for later, or waiting for a worker) to
-- the segment of now, so the old one can be emptied; entries of jobs no longer queued are dropped. Entries
-- a claim holds are left to it. The caller puts the segment's table in place of {segment}.
WITH moving AS (
    SELECT ctid FROM {segment} FOR UPDATE SKIP LOCKED
), moved AS (
    DELETE FROM {segment} r
    WHERE r.ctid = ANY (ARRAY(SELECT ctid FROM moving))
    RETURNING r.*
), kept AS (
    -- An entry of a fair type scheduled for later gets its job's turn once due.
    INSERT INTO job_ready (seg, job_id, type, queue, priority, fair_seq, run_at)
    SELECT jobwire_segment(), m.job_id, m.type, m.queue, m.priority,
           CASE WHEN m.fair_seq = jobwire_fair_later() AND m.run_at <= now() THEN j.fair_seq ELSE m.fair_seq END,
           m.run_at
    FROM moved m
    CROSS JOIN LATERAL (SELECT j.fair_seq FROM live_jobs j WHERE j.id = m.job_id AND j.state = 'QUEUED'
                        AND j.key_admitted IS NOT FALSE) j
    RETURNING job_id
)
SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM kept) AS kept
