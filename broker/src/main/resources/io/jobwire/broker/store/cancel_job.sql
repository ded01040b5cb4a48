-- QUEUED, HELD, WAITING or RUNNING → CANCELLED, into job_history. A running attempt is recorded as cancelled; its
-- worker's later writes fail the lease check because the job is no longer live. The row is locked first,
-- so `before` holds the state the cancel actually changed (a claim may have committed meanwhile). A
-- queued job's ready entry stays until a claim meets it and drops it.
WITH before AS MATERIALIZED (
    SELECT id, state
    FROM live_jobs
    WHERE id = :id
    FOR UPDATE
), finishing AS (
    DELETE FROM live_jobs j
    WHERE j.id = (SELECT id FROM before) AND (:owner::text IS NULL OR j.owner = :owner::text)
    RETURNING j.*, 'CANCELLED'::text AS final_state, j.result AS final_result, :reason::text AS final_error,
              0 AS final_errors
), moved AS (
    -- @include finish_into_history
    RETURNING *
), ended AS (
    SELECT moved.id, moved.attempt, moved.worker_id, moved.started_at, 'cancelled' AS outcome, :reason::text AS error
    FROM moved
    JOIN before ON before.id = moved.id
    WHERE before.state = 'RUNNING'
), history AS (
    -- @include attempt_ended
), unwaited AS (
    -- a WAITING job's dependencies not resolved: nothing waits any more
    DELETE FROM job_dependencies d WHERE d.job_id IN (SELECT id FROM moved)
)
SELECT * FROM moved
