-- The reaper's choice: lease entries due now (the lease ended, or the entry is five seconds old), locked so
-- that the reapers of other brokers take others. Oldest segment first (15 seconds behind the segment of
-- now, then 14, ...; each a partition of its own, pruned as the statement runs): a reaper that fell behind
-- empties whole segments one after the other, which the ring then truncates, instead of leaving a few
-- entries in every segment, none of which could be truncated, while every scan walks the dead entries of
-- all of them.
SELECT e.seg, e.entry, e.job_id, e.attempt
FROM generate_series(15, 0, -1) AS a(age)
CROSS JOIN LATERAL (
    SELECT l.seg, l.ctid::text AS entry, l.job_id, l.attempt
    FROM job_leases l
    WHERE l.seg = (jobwire_segment() - a.age + 16) % 16 AND l.check_at <= now()
    LIMIT :limit
    FOR UPDATE OF l SKIP LOCKED
) e
LIMIT :limit
