-- Deletes up to :limit jobs that finished before :cutoff from job_history, with their attempt history and
-- idempotency keys. The BRIN index on finished_at leads to the old page ranges only (no order: any of them
-- will do, and sorting would read them all); small batches keep each transaction short.
WITH doomed AS (
    SELECT id
    FROM job_history
    WHERE finished_at < :cutoff
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM job_history h
    USING doomed
    WHERE h.id = doomed.id
    RETURNING h.id
), history AS (
    DELETE FROM job_attempts a
    USING gone
    WHERE a.job_id = gone.id
), keys AS (
    DELETE FROM job_keys k
    USING gone
    WHERE k.job_id = gone.id
)
SELECT count(*) FROM gone
