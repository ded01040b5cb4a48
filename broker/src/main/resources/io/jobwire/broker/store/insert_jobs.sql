-- Inserts a batch of jobs in one statement. Ids are drawn first so each input row knows its id; a row
-- whose (owner, idempotency_key) already exists is skipped and comes back with a null id. A batch
-- without idempotency keys is sent without the line marked @keyed: ON CONFLICT makes every row a
-- speculative insertion (an index probe and one more WAL record per row).
-- The sequence is named as a constant ('jobs_id_seq', created with the identity column in V1): its
-- lookup by pg_get_serial_sequence ran once per row and cost a third of the statement.
WITH input AS (
    SELECT nextval('jobs_id_seq') AS new_id, i.*
    FROM unnest(:types::text[], :queues::text[], :payloads::text[], :priorities::int[],
                :runAts::text[], :delays::bigint[], :keys::text[], :maxAttempts::int[],
                :leaseMs::bigint[], :labels::text[], :retryInitialMs::bigint[], :retryMaxMs::bigint[],
                :owners::text[])
         WITH ORDINALITY AS i(type, queue, payload, priority, run_at, delay_ms, idempotency_key, max_attempts,
                              lease_duration_ms, labels, retry_initial_ms, retry_max_ms, owner, ord)
), changed AS (
    INSERT INTO jobs (id, type, queue, payload, priority, run_at, idempotency_key, max_attempts,
                      lease_duration_ms, labels, retry_initial_ms, retry_max_ms, owner)
    SELECT new_id, type, queue, payload::jsonb, priority,
           CASE WHEN run_at IS NULL THEN now() + delay_ms * interval '1 millisecond'
                ELSE greatest(run_at::timestamptz, now()) END,
           idempotency_key, max_attempts, lease_duration_ms, labels::jsonb, retry_initial_ms, retry_max_ms, owner
    FROM input
    ORDER BY ord
    ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING -- @keyed
    RETURNING *
)
SELECT input.ord AS input_ord, changed.*
FROM input
LEFT JOIN changed ON changed.id = input.new_id
ORDER BY input.ord
