-- Counts per (type, queue), with runs and errors, and the age of the oldest due queued job.
SELECT type,
       queue,
       count(*) FILTER (WHERE state = 'QUEUED')                     AS queued,
       count(*) FILTER (WHERE state = 'QUEUED' AND run_at > now())  AS scheduled,
       count(*) FILTER (WHERE state = 'RUNNING')                    AS running,
       count(*) FILTER (WHERE state = 'SUCCEEDED')                  AS succeeded,
       count(*) FILTER (WHERE state = 'FAILED')                     AS failed,
       count(*) FILTER (WHERE state = 'CANCELLED')                  AS cancelled,
       count(*) FILTER (WHERE state = 'HELD')                       AS held,
       coalesce(sum(attempt), 0)                                    AS attempts,
       coalesce(sum(errors), 0)                                     AS attempt_errors,
       coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE state = 'QUEUED' AND run_at <= now())) * 1000,
                0)::bigint                                          AS oldest_queued_ms,
       now()                                                        AS taken_at
FROM jobs
WHERE (:type::text IS NULL OR type = :type::text)
  AND (:queue::text IS NULL OR queue = :queue::text)
  AND (:owner::text IS NULL OR owner = :owner::text)
GROUP BY type, queue
ORDER BY type, queue
