-- Deletes up to :limit jobs that finished before :cutoff from job_history, oldest ids first, with their
-- attempt history and idempotency keys. Small batches keep each transaction short.
WITH doomed AS (
    SELECT id
    FROM job_history
    WHERE finished_at < :cutoff
    ORDER BY id
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
