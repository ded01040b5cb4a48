-- Jobwire schema, version 3: keep the queue table fast under sustained load.

-- Attempt rows are written by the same statements that change their job, so the foreign key adds
-- nothing but a lookup per row, and its cached plan is chosen from the table's statistics when the
-- connection first used it: planned against an empty table, every check became a sequential scan.
-- Retention deletes a job's attempts together with the job.
ALTER TABLE job_attempts DROP CONSTRAINT IF EXISTS job_attempts_job_id_fkey;

-- Retention prunes finished jobs oldest first, a small batch at a time.
CREATE INDEX jobs_finished_at ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- A queue table churns: most rows are updated two or three times within seconds, then deleted by
-- retention. Vacuum and analyze it after a small fraction of changes, without throttling, so dead
-- index entries at the head of the claim index are cleared and plans follow the table's real size.
ALTER TABLE jobs SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_vacuum_insert_threshold = 5000,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0
);

ALTER TABLE job_attempts SET (
    fillfactor = 90,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.05,
    autovacuum_vacuum_cost_delay = 0
);
