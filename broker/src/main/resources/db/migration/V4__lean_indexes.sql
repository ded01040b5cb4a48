-- Jobwire schema, version 4: one index fewer on the queue table.

-- jobs_type_id served List and Stats by type. Every job inserts three row versions (submit, claim,
-- finish), none of them HOT because the state changes, so every index is written three times per job.
-- List by type now walks the primary key newest first, and Stats scans the table as it always did.
-- It also kept plans honest: with it gone, the claim can reach queued jobs only through jobs_claimable.
DROP INDEX IF EXISTS jobs_type_id;
