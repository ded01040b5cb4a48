-- The reaper's choice: lease entries due now (the lease ended, or the entry is five seconds old), locked so
-- that the reapers of other brokers take others. No order: every due entry is taken within the pass.
SELECT l.tableoid::bigint AS part, l.ctid::text AS entry, l.job_id, l.attempt
FROM job_leases l
WHERE l.check_at <= now()
LIMIT :limit
FOR UPDATE SKIP LOCKED
