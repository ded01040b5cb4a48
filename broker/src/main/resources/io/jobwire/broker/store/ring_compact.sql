-- Copies the ready entries still in an old segment (jobs scheduled for later, or waiting for a worker) to
-- the segment of now, so the old one can be emptied; entries of jobs no longer queued are not copied. The
-- caller then deletes the entries read here from the old segment, in a transaction of its own
-- (ring_compact_delete.sql). Nothing here locks an entry: were the entries moved in one statement, they
-- would be locked for its length, the claims in that moment would skip them (SKIP LOCKED) and take the
-- jobs behind them, and with fair share a newcomer's turn, set after the turns claims took, would come
-- after every entry moved. While the originals are deleted their copies are there, in the same order. An
-- entry a claim takes meanwhile leaves its copy behind as an entry of a job no longer queued: a hint that
-- takes no place in a claim. The caller puts the segment's table in place of {segment}.
WITH old AS (
    SELECT job_id, type, queue, priority, fair_seq, run_at FROM {segment}
), kept AS (
    -- An entry of a fair type scheduled for later gets its job's turn once due.
    INSERT INTO job_ready (seg, job_id, type, queue, priority, fair_seq, run_at)
    SELECT jobwire_segment(), m.job_id, m.type, m.queue, m.priority,
           CASE WHEN m.fair_seq = jobwire_fair_later() AND m.run_at <= now() THEN j.fair_seq ELSE m.fair_seq END,
           m.run_at
    FROM old m
    CROSS JOIN LATERAL (SELECT j.fair_seq FROM live_jobs j WHERE j.id = m.job_id AND j.state = 'QUEUED'
                        AND j.key_admitted IS NOT FALSE) j
    RETURNING job_id
)
SELECT ARRAY(SELECT job_id FROM old) AS jobs, (SELECT count(*) FROM kept) AS kept
