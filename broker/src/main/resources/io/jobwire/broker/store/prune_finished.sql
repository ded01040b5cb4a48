-- Deletes up to :limit jobs that finished before :cutoff, oldest first, with their attempt history.
-- Small batches keep each transaction short, so pruning never holds locks that claims would wait on.
WITH doomed AS (
    SELECT id
    FROM jobs
    WHERE finished_at < :cutoff
      AND state IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
    ORDER BY finished_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM jobs j
    USING doomed
    WHERE j.id = doomed.id
    RETURNING j.id
), history AS (
    DELETE FROM job_attempts a
    USING gone
    WHERE a.job_id = gone.id
)
SELECT count(*) FROM gone
