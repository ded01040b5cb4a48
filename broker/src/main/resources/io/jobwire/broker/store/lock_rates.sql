-- Locks the rate limits of the keys for the rest of the transaction, in key order (no two admitters wait
-- for each other in a cycle). A key without a limit has nothing to lock: its jobs are not limited.
SELECT count(*) FROM (SELECT key FROM rate_limits WHERE key = ANY (:keys::text[]) ORDER BY key FOR UPDATE) l
