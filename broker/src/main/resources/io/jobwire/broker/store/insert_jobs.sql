-- Inserts a batch of jobs in one statement, each with its entry in the ready ring. Ids are drawn first so
-- each input row knows its id. A batch with idempotency keys claims each key in job_keys first (ON
-- CONFLICT DO NOTHING: one job per (owner, key), live or finished); a row whose key was taken is not
-- inserted and comes back with a null id. A batch without keys is sent without the lines marked @keyed.
-- A job with depends_on is written WAITING, with a row per dependency in job_dependencies (the lines
-- marked @deps, sent only with a batch that has some), and no ready entry.
-- A job of a type with fair share (a fair_step: 1,000,000 / its owner's weight) takes its turn (fair_seq)
-- from its owner's counter, moved on by the batch's jobs in one upsert per (type, owner): the batch starts
-- at the greater of the counter and the type's clock (the furthest turn claimed: this broker's own, in
-- fair_clock, or what fair_clock holds from every broker; turns start at 1, as 0 is a type without fair
-- share). The lines marked @fair are sent only with a batch that has such jobs, those marked @unfair only
-- with one that has none.
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
                :onDependencyFailure::text[], :fairSteps::bigint[], :fairClocks::bigint[])
         WITH ORDINALITY AS i(type, queue, payload, priority, run_at, delay_ms, idempotency_key, max_attempts,
                              lease_duration_ms, labels, retry_initial_ms, retry_max_ms, owner, parent_id,
                              callback_url, callback_all, trace_parent, trace_state, run_timeout_ms, concurrency_key,
                              concurrency_limit, concurrency_strategy, rate_key, depends_on, on_dependency_failure,
                              fair_step, fair_clock, ord)
), fair_batches AS ( -- @fair
    SELECT type, owner, sum(fair_step)::bigint AS span, max(fair_clock) AS clock -- @fair
    FROM input WHERE fair_step IS NOT NULL GROUP BY type, owner -- @fair
), fair_counted AS ( -- @fair
    INSERT INTO fair_counters AS c (type, owner, next_seq, span) -- @fair
    SELECT b.type, b.owner, -- @fair
           greatest(b.clock, (SELECT k.turn FROM fair_clock k WHERE k.type = b.type), 1) + b.span, -- @fair
           b.span -- @fair
    FROM fair_batches b -- @fair
    ORDER BY b.type, b.owner -- @fair
    ON CONFLICT (type, owner) DO UPDATE -- @fair
    SET next_seq = greatest(c.next_seq + excluded.span, excluded.next_seq), span = excluded.span -- @fair
    RETURNING c.type, c.owner, c.next_seq - c.span AS first_seq -- @fair
), fair_turns AS ( -- @fair
    SELECT i.ord, f.first_seq + sum(i.fair_step) OVER (PARTITION BY i.type, i.owner ORDER BY i.ord) - i.fair_step -- @fair
           AS fair_seq -- @fair
    FROM input i JOIN fair_counted f ON f.type = i.type AND f.owner = i.owner -- @fair
    WHERE i.fair_step IS NOT NULL -- @fair
), keyed AS ( -- @keyed
    INSERT INTO job_keys (owner, idempotency_key, job_id) -- @keyed
    SELECT owner, idempotency_key, new_id FROM input WHERE idempotency_key IS NOT NULL ORDER BY ord -- @keyed
    ON CONFLICT (owner, idempotency_key) DO NOTHING -- @keyed
    RETURNING job_id -- @keyed
), changed AS (
    INSERT INTO live_jobs (id, type, queue, payload, priority, run_at, idempotency_key, max_attempts,
                           lease_duration_ms, labels, retry_initial_ms, retry_max_ms, owner, parent_id,
                           callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
                           concurrency_key, concurrency_limit, concurrency_strategy, key_admitted, key_slot, rate_key,
                           state, depends_on, on_dependency_failure, fair_seq)
    SELECT new_id, type, queue, payload::jsonb, priority,
           CASE WHEN run_at IS NULL THEN now() + delay_ms * interval '1 millisecond'
                ELSE greatest(run_at::timestamptz, now()) END,
           idempotency_key, max_attempts, lease_duration_ms, labels::jsonb, retry_initial_ms, retry_max_ms, owner,
           parent_id, callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
           concurrency_key, concurrency_limit, concurrency_strategy,
           CASE WHEN concurrency_key IS NULL AND rate_key IS NULL THEN NULL ELSE false END,
           CASE WHEN concurrency_key IS NULL THEN NULL ELSE false END, rate_key,
           CASE WHEN depends_on IS NULL THEN 'QUEUED' ELSE 'WAITING' END, string_to_array(depends_on, ',')::bigint[],
           on_dependency_failure,
           coalesce(t.fair_seq, 0) -- @fair
           0 -- @unfair
    FROM input
    LEFT JOIN fair_turns t USING (ord) -- @fair
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
