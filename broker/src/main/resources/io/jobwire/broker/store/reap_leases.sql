-- Settles the chosen lease entries. An attempt whose lease is still expired (checked again here: a
-- completion or a heartbeat may have landed since they were chosen) is taken back: queued again at once
-- with a new ready entry, or FAILED into job_history when every attempt is spent. An attempt that still
-- runs gets a new entry in the segment of now. The chosen entries are deleted; the entry of a job that
-- finished or moved on is just deleted.
WITH chosen AS (
    SELECT * FROM unnest(:parts::bigint[], :entries::text[], :ids::bigint[], :attempts::int[])
             AS c(part, entry, job_id, attempt)
), requeued AS (
    UPDATE live_jobs j
    SET state = 'QUEUED',
        run_at = now(),
        last_error = 'lease expired: worker ' || coalesce(j.worker_id, '?') || ' sent no heartbeat in time',
        errors = j.errors + 1,
        lease_token = NULL,
        lease_expires_at = NULL,
        updated_at = now(),
        version = j.version + 1
    FROM chosen c
    WHERE j.id = ANY (:ids::bigint[]) AND j.id = c.job_id AND j.attempt = c.attempt
      AND j.state = 'RUNNING' AND j.lease_expires_at <= now() AND j.spent_attempts < j.max_attempts
    RETURNING /*@change_row j*/,
              j.last_error, j.worker_id, j.started_at, j.priority
), finishing AS (
    DELETE FROM live_jobs j
    USING chosen c
    WHERE j.id = ANY (:ids::bigint[]) AND j.id = c.job_id AND j.attempt = c.attempt
      AND j.state = 'RUNNING' AND j.lease_expires_at <= now() AND j.spent_attempts >= j.max_attempts
    RETURNING j.*, 'FAILED'::text AS final_state, j.result AS final_result,
              'lease expired: worker ' || coalesce(j.worker_id, '?') || ' sent no heartbeat in time' AS final_error,
              1 AS final_errors
), moved AS (
    -- @include finish_into_history
    RETURNING /*@change_row*/, last_error, worker_id, started_at
), still_running AS (
    -- Running in this statement's snapshot and not taken back by it: a lease a heartbeat extended after
    -- the snapshot keeps an entry too (due at once, looked at again next pass).
    SELECT j.id, j.attempt, j.lease_expires_at
    FROM live_jobs j
    JOIN chosen c ON c.job_id = j.id AND c.attempt = j.attempt
    WHERE j.id = ANY (:ids::bigint[]) AND j.state = 'RUNNING'
      AND j.id NOT IN (SELECT id FROM requeued) AND j.id NOT IN (SELECT id FROM moved)
), rearmed AS (
    -- @include lease_entry
    FROM still_running
), gone AS (
    DELETE FROM job_leases l
    WHERE l.ctid = ANY (:entries::tid[]) AND (l.tableoid::bigint, l.ctid::text) IN (SELECT part, entry FROM chosen)
), ready AS (
    -- @include ready_entry
    FROM requeued
), ended AS (
    SELECT id, attempt, worker_id, started_at, 'lease_expired' AS outcome, last_error AS error FROM requeued
    UNION ALL
    SELECT id, attempt, worker_id, started_at, 'lease_expired', last_error FROM moved
), history AS (
    -- @include attempt_ended
)
SELECT /*@change_row*/ FROM requeued
UNION ALL
SELECT /*@change_row*/ FROM moved
