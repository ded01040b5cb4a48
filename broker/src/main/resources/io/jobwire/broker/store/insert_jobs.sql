-- Inserts a batch of jobs in one statement, each with its entry in the ready ring. Ids are drawn first so
-- each input row knows its id. A batch with idempotency keys claims each key in job_keys first (ON
-- CONFLICT DO NOTHING: one job per (owner, key), live or finished); a row whose key was taken is not
-- inserted and comes back with a null id. A batch without keys is sent without the lines marked @keyed.
-- A job with depends_on is written WAITING, with a row per dependency in job_dependencies (the lines
-- marked @deps, sent only with a batch that has some), and no ready entry.
-- The sequence is named as a constant ('jobs_id_seq', created with the identity column in V1): its
-- lookup by pg_get_serial_sequence ran once per row and cost a third of the statement.
WITH input AS (
    SELECT nextval('jobs_id_seq') AS new_id, i.*
    FROM unnest(:types::text[], :queues::text[], :payloads::text[], :priorities::int[],
                :runAts::text[], :delays::bigint[], :keys::text[], :maxAttempts::int[],
                :leaseMs::bigint[], :labels::text[], :retryInitialMs::bigint[], :retryMaxMs::bigint[],
                :owners::text[], :parents::bigint[],
                :callbackUrls::text[], :callbackAll::boolean[], :traceParents::text[], :traceStates::text[],
                :runTimeoutMs::bigint[], :concurrencyKeys::text[], :concurrencyLimits::int[],
                :concurrencyStrategies::text[], :rateKeys::text[], :dependsOn::text[],
                :onDependencyFailure::text[])
         WITH ORDINALITY AS i(type, queue, payload, priority, run_at, delay_ms, idempotency_key, max_attempts,
                              lease_duration_ms, labels, retry_initial_ms, retry_max_ms, owner, parent_id,
                              callback_url, callback_all, trace_parent, trace_state, run_timeout_ms, concurrency_key,
                              concurrency_limit, concurrency_strategy, rate_key, depends_on, on_dependency_failure, ord)
), keyed AS ( -- @keyed
    INSERT INTO job_keys (owner, idempotency_key, job_id) -- @keyed
    SELECT owner, idempotency_key, new_id FROM input WHERE idempotency_key IS NOT NULL ORDER BY ord -- @keyed
    ON CONFLICT (owner, idempotency_key) DO NOTHING -- @keyed
    RETURNING job_id -- @keyed
), changed AS (
    INSERT INTO live_jobs (id, type, queue, payload, priority, run_at, idempotency_key, max_attempts,
                           lease_duration_ms, labels, retry_initial_ms, retry_max_ms, owner, parent_id,
                           callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
                           concurrency_key, concurrency_limit, concurrency_strategy, key_admitted, rate_key,
                           state, depends_on, on_dependency_failure)
    SELECT new_id, type, queue, payload::jsonb, priority,
           CASE WHEN run_at IS NULL THEN now() + delay_ms * interval '1 millisecond'
                ELSE greatest(run_at::timestamptz, now()) END,
           idempotency_key, max_attempts, lease_duration_ms, labels::jsonb, retry_initial_ms, retry_max_ms, owner,
           parent_id, callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
           concurrency_key, concurrency_limit, concurrency_strategy,
           CASE WHEN concurrency_key IS NULL AND rate_key IS NULL THEN NULL ELSE false END, rate_key,
           CASE WHEN depends_on IS NULL THEN 'QUEUED' ELSE 'WAITING' END, string_to_array(depends_on, ',')::bigint[],
           on_dependency_failure
    FROM input
    WHERE idempotency_key IS NULL OR new_id IN (SELECT job_id FROM keyed) -- @keyed
    ORDER BY ord
    RETURNING *
),
dependencies AS ( -- @deps
    INSERT INTO job_dependencies (job_id, depends_on) -- @deps
    SELECT c.id, unnest(c.depends_on) FROM changed c WHERE c.depends_on IS NOT NULL -- @deps
    ON CONFLICT DO NOTHING -- @deps
), -- @deps
-- @include ready_entries(changed)

SELECT input.ord AS input_ord, changed.*
FROM input
LEFT JOIN changed ON changed.id = input.new_id
ORDER BY input.ord
