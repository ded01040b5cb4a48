-- Settles the chosen lease entries, all of one segment (:seg). An attempt whose lease is still expired (checked again here: a
-- completion or a heartbeat may have landed since they were chosen) is taken back: queued again with a
-- new ready entry, or FAILED into job_history when every attempt is spent. An attempt that ran past its
-- run timeout (its lease was capped there) is 'timed_out', a retryable failure: queued again after the
-- job's backoff, min(max, initial * 2^(n-1)) * jitter; one whose worker went silent is 'lease_expired',
-- queued again at once. An attempt that still
-- runs gets a new entry in the segment of now. The chosen entries are deleted; the entry of a job that
-- finished or moved on is just deleted.
WITH chosen AS (
    SELECT * FROM unnest(:ids::bigint[], :attempts::int[], :jitters::float8[]) AS c(job_id, attempt, jitter)
), ended_how AS (
    -- Why each attempt still expired ended, and what it is told: nothing is written here
    SELECT j.id, t.timed_out,
           CASE WHEN t.timed_out
                THEN 'timed out: the attempt ran past its run timeout of ' || trim_scale(j.run_timeout_ms / 1000.0) || 's'
                ELSE 'lease expired: worker ' || coalesce(j.worker_id, '?') || ' sent no heartbeat in time' END AS error,
           (least(coalesce(j.retry_max_ms, :defaultMaxMs)::float8,
                  coalesce(j.retry_initial_ms, :defaultInitialMs)
                      * power(2::float8, least(greatest(j.spent_attempts - 1, 0), 40))) * c.jitter)::bigint AS backoff_ms
    FROM live_jobs j
    JOIN chosen c ON c.job_id = j.id AND c.attempt = j.attempt
    CROSS JOIN LATERAL (SELECT coalesce(j.started_at + j.run_timeout_ms * interval '1 millisecond' <= now(), false)
                               AS timed_out) t
    WHERE j.id = ANY (:ids::bigint[]) AND j.state = 'RUNNING' AND j.lease_expires_at <= now()
), requeued AS (
    UPDATE live_jobs j
    SET state = 'QUEUED',
        run_at = CASE WHEN h.timed_out THEN now() + h.backoff_ms * interval '1 millisecond' ELSE now() END,
        last_error = h.error,
        errors = j.errors + 1,
        lease_token = NULL,
        lease_expires_at = NULL,
        -- a job of a rate key needs a token for each start: it waits for one again
        key_admitted = CASE WHEN j.rate_key IS NULL THEN j.key_admitted ELSE false END,
        updated_at = now(),
        version = j.version + 1
    FROM chosen c, ended_how h
    WHERE j.id = ANY (:ids::bigint[]) AND j.id = c.job_id AND j.attempt = c.attempt AND h.id = j.id
      AND j.state = 'RUNNING' AND j.lease_expires_at <= now() AND j.spent_attempts < j.max_attempts
    RETURNING /*@change_row j*/,
              j.last_error, j.worker_id, j.started_at, j.priority, j.key_admitted, j.key_slot, j.fair_seq, h.timed_out
), finishing AS (
    DELETE FROM live_jobs j
    USING chosen c, ended_how h
    WHERE j.id = ANY (:ids::bigint[]) AND j.id = c.job_id AND j.attempt = c.attempt AND h.id = j.id
      AND j.state = 'RUNNING' AND j.lease_expires_at <= now() AND j.spent_attempts >= j.max_attempts
    RETURNING j.*, 'FAILED'::text AS final_state, j.result AS final_result, h.error AS final_error,
              1 AS final_errors, h.timed_out
), moved AS (
    -- @include finish_into_history
    RETURNING /*@change_row*/, last_error, worker_id, started_at
), moved_how AS (
    SELECT m.*, f.timed_out FROM moved m JOIN finishing f ON f.id = m.id
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
    -- By row address, in the one segment the entries were chosen from (:seg, pruned whatever the plan): a
    -- TID scan of that partition only. The addresses are those of rows this transaction locked, so they
    -- still name the chosen entries. (Matching each row against the chosen list as well made the planner,
    -- which takes an unnest for ten rows, compare every entry with every other: quadratic, 0.2-1.4 s a
    -- batch of 1,500 on PostgreSQL 15.)
    DELETE FROM job_leases l
    WHERE l.seg = :seg AND l.ctid = ANY (:entries::tid[])
),
-- @include ready_entries(requeued)
, ended AS (
    SELECT id, attempt, worker_id, started_at,
           CASE WHEN timed_out THEN 'timed_out' ELSE 'lease_expired' END AS outcome, last_error AS error
    FROM requeued
    UNION ALL
    SELECT id, attempt, worker_id, started_at, CASE WHEN timed_out THEN 'timed_out' ELSE 'lease_expired' END,
           last_error
    FROM moved_how
), history AS (
    -- @include attempt_ended
)
SELECT /*@change_row*/, timed_out FROM requeued
UNION ALL
SELECT /*@change_row*/, timed_out FROM moved_how
