-- The keys that have jobs waiting in rate_waiting, due or not, after :after in key order, :limit at most:
-- a skip scan of rate_waiting_order (one index probe per key, however many jobs each has waiting).
WITH RECURSIVE k AS (
    (SELECT key FROM rate_waiting WHERE key > :after ORDER BY key LIMIT 1)
    UNION ALL
    SELECT (SELECT w.key FROM rate_waiting w WHERE w.key > k.key ORDER BY w.key LIMIT 1)
    FROM k
    WHERE k.key IS NOT NULL
)
SELECT key FROM k WHERE key IS NOT NULL LIMIT :limit
