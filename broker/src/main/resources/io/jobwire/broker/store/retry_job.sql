-- FAILED or CANCELLED (in job_history) or HELD → QUEUED, due now, with a fresh budget of max_attempts and a
-- new ready entry. A finished job moves back from job_history to live_jobs in this statement. A finished
-- job of a fair type takes a new turn from its owner's counter, as a submit does (insert_jobs.sql; :fairTurn
-- is the turn of weight 1, TypeRegistrations.FAIR_TURN); a held one keeps its turn.
WITH revived AS (
    DELETE FROM job_history h
    WHERE h.id = :id AND h.state IN ('FAILED', 'CANCELLED') AND (:owner::text IS NULL OR h.owner = :owner::text)
    RETURNING h.*
), fair_turn AS (
    INSERT INTO fair_counters AS c (type, owner, next_seq, span)
    SELECT r.type, r.owner, greatest((SELECT k.turn FROM fair_clock k WHERE k.type = r.type), 1) + s.step, s.step
    FROM revived r
    JOIN type_registry t ON t.name = r.type AND t.fair_weights IS NOT NULL
    CROSS JOIN LATERAL (SELECT :fairTurn::bigint / coalesce((t.fair_weights ->> r.owner)::int, 1) AS step) s
    ON CONFLICT (type, owner) DO UPDATE
    SET next_seq = greatest(c.next_seq + excluded.span, excluded.next_seq), span = excluded.span
    RETURNING c.next_seq - c.span AS turn
), back AS (
    INSERT INTO live_jobs (id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key,
                           max_attempts, attempt, spent_attempts, releases, errors, lease_duration_ms,
                           retry_initial_ms, retry_max_ms, lease_token, lease_expires_at, worker_id,
                           progress_percent, progress_message, progress_details, progress_at, result, last_error,
                           created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
                         callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
                         concurrency_key, concurrency_limit, concurrency_strategy, key_admitted, key_slot, rate_key,
                         depends_on, on_dependency_failure, fair_seq)
    SELECT id, type, queue, 'QUEUED', priority, now(), payload, labels, owner, idempotency_key,
           max_attempts, attempt, 0, releases, errors, lease_duration_ms,
           retry_initial_ms, retry_max_ms, NULL, NULL, worker_id,
           progress_percent, progress_message, progress_details, progress_at, NULL, last_error,
           created_at, now(), started_at, NULL, version + 1, lease_principal, parent_id, callback_url, callback_all,
           trace_parent, trace_state, run_timeout_ms, concurrency_key, concurrency_limit, concurrency_strategy,
           CASE WHEN concurrency_key IS NULL AND rate_key IS NULL THEN NULL ELSE false END,
           CASE WHEN concurrency_key IS NULL THEN NULL ELSE false END, rate_key,
           depends_on, on_dependency_failure, coalesce((SELECT turn FROM fair_turn), 0)
    FROM revived
    RETURNING *
), unheld AS (
    UPDATE live_jobs
    SET state = 'QUEUED',
        run_at = now(),
        spent_attempts = 0,
        updated_at = now(),
        version = version + 1
    WHERE id = :id AND state = 'HELD' AND (:owner::text IS NULL OR owner = :owner::text)
    RETURNING *
), changed AS (
    SELECT * FROM back
    UNION ALL
    SELECT * FROM unheld
),
-- @include ready_entries(changed)

SELECT * FROM changed
