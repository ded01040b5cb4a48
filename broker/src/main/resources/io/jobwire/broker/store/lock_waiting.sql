-- Locks the WAITING jobs among the ids, in id order, for the rest of the transaction: one resolution of a
-- job at a time, whichever broker asks.
SELECT count(*) FROM (SELECT id FROM live_jobs WHERE id = ANY (:ids::bigint[]) AND state = 'WAITING' ORDER BY id FOR UPDATE) l
