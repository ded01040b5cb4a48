-- Counts per (type, queue), with runs and errors, and the age of the oldest due queued job (to the second),
-- from the counts kept as jobs change (migration V8): job_counts plus the deltas not rolled into it yet,
-- a few hundred rows however many jobs there are.
WITH buckets AS (
    SELECT type, queue, state, bucket, sum(jobs) AS jobs, sum(attempts) AS attempts, sum(errors) AS errors
    FROM (SELECT owner, type, queue, state, bucket, jobs, attempts, errors FROM job_counts
          UNION ALL
          SELECT owner, type, queue, state, bucket, jobs, attempts, errors FROM job_count_deltas) AS counted
    WHERE (:type::text IS NULL OR type = :type::text)
      AND (:queue::text IS NULL OR queue = :queue::text)
      AND (:owner::text IS NULL OR owner = :owner::text)
    GROUP BY type, queue, state, bucket
)
SELECT type,
       queue,
       coalesce(sum(jobs) FILTER (WHERE state = 'QUEUED'), 0)                  AS queued,
       coalesce(sum(jobs) FILTER (WHERE state = 'QUEUED' AND bucket > now()), 0) AS scheduled,
       coalesce(sum(jobs) FILTER (WHERE state = 'RUNNING'), 0)                 AS running,
       coalesce(sum(jobs) FILTER (WHERE state = 'SUCCEEDED'), 0)               AS succeeded,
       coalesce(sum(jobs) FILTER (WHERE state = 'FAILED'), 0)                  AS failed,
       coalesce(sum(jobs) FILTER (WHERE state = 'CANCELLED'), 0)               AS cancelled,
       coalesce(sum(jobs) FILTER (WHERE state = 'HELD'), 0)                    AS held,
       coalesce(sum(jobs) FILTER (WHERE state = 'WAITING'), 0)                 AS waiting,
       coalesce(sum(attempts), 0)                                              AS attempts,
       coalesce(sum(errors), 0)                                                AS attempt_errors,
       coalesce(extract(epoch FROM now() - min(bucket) FILTER (WHERE state = 'QUEUED' AND bucket <= now() AND jobs > 0))
                * 1000, 0)::bigint                                             AS oldest_queued_ms,
       now()                                                                   AS taken_at
FROM buckets
GROUP BY type, queue
HAVING sum(jobs) > 0
ORDER BY type, queue
