-- Deletes up to :limit jobs that finished before :cutoff from one partition of job_history ({partition}:
-- the default one, or job_history_before, the history found by migration V8), with their attempt history
-- and idempotency keys. Every other partition goes whole (store/HistoryPartitions). The BRIN index on
-- finished_at leads to the old page ranges only (no order: any of them will do, and sorting would read them
-- all); small batches keep each transaction short. The delete names job_history, so that the count
-- triggers see it.
WITH doomed AS (
    SELECT id, finished_at
    FROM {partition}
    WHERE finished_at < :cutoff
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM job_history h
    USING doomed
    WHERE h.id = doomed.id
      AND h.finished_at = doomed.finished_at
      AND h.finished_at < :cutoff
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
