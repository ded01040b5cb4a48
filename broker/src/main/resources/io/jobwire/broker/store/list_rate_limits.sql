-- Every rate limit, by key, with the tokens it has now and its jobs waiting for one (of :owner only,
-- unless null).
SELECT r.key, r.per_second, r.burst, r.set_by, r.set_at,
       greatest(0, least(r.burst - r.held, r.tokens + extract(epoch FROM clock_timestamp() - r.refilled_at)::float8 * r.per_second))
           AS tokens,
       (SELECT count(*) FROM rate_waiting w JOIN live_jobs j ON j.id = w.job_id
        WHERE w.key = r.key AND j.state = 'QUEUED' AND NOT j.key_admitted
          AND (:owner::text IS NULL OR j.owner = :owner::text)) AS waiting
FROM rate_limits r
ORDER BY r.key
