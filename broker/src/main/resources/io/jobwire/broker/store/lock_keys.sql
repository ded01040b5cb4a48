-- Takes the admission lock of each concurrency key for the rest of the transaction, in one order (by the
-- lock's number) so that two admitters never wait for each other in a cycle.
SELECT count(pg_advisory_xact_lock(h))
FROM (SELECT DISTINCT hashtextextended('jobwire-key:' || k, 0) AS h FROM unnest(:keys::text[]) k ORDER BY 1 OFFSET 0) s
