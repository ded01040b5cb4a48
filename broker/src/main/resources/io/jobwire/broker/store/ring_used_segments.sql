-- Segments of the ring that hold anything (a truncated segment has no pages), other than the one of now
-- and the one before it, which statements may still be writing to.
SELECT s AS seg
FROM generate_series(0, 15) AS s
WHERE s NOT IN (jobwire_segment(), (jobwire_segment() + 15) % 16)
  AND (pg_relation_size(format('job_ready_%s', s)::regclass) > 0
       OR pg_relation_size(format('job_leases_%s', s)::regclass) > 0)
ORDER BY s
