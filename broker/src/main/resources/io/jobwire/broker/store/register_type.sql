-- Registers a job type or replaces its registration; the version moves on with each change.
INSERT INTO type_registry AS t (name, description, documentation, payload_schema, result_schema, uses, default_queue,
                                default_lease_ms, default_max_attempts, retry_initial_ms, retry_max_ms, registered_by,
                                default_run_timeout_ms, default_concurrency_key, default_concurrency_limit,
                                default_concurrency_strategy, default_rate_key, fair_weights)
VALUES (:name, :description, :documentation, :payloadSchema::jsonb, :resultSchema::jsonb, :uses, :defaultQueue,
        :defaultLeaseMs, :defaultMaxAttempts, :retryInitialMs, :retryMaxMs, :registeredBy, :defaultRunTimeoutMs,
        :defaultConcurrencyKey, :defaultConcurrencyLimit, :defaultConcurrencyStrategy, :defaultRateKey,
        :fairWeights::jsonb)
ON CONFLICT (name) DO UPDATE
SET description = excluded.description,
    documentation = excluded.documentation,
    payload_schema = excluded.payload_schema,
    result_schema = excluded.result_schema,
    uses = excluded.uses,
    default_queue = excluded.default_queue,
    default_lease_ms = excluded.default_lease_ms,
    default_max_attempts = excluded.default_max_attempts,
    retry_initial_ms = excluded.retry_initial_ms,
    retry_max_ms = excluded.retry_max_ms,
    default_run_timeout_ms = excluded.default_run_timeout_ms,
    default_concurrency_key = excluded.default_concurrency_key,
    default_concurrency_limit = excluded.default_concurrency_limit,
    default_concurrency_strategy = excluded.default_concurrency_strategy,
    default_rate_key = excluded.default_rate_key,
    fair_weights = excluded.fair_weights,
    registered_by = excluded.registered_by,
    version = t.version + 1,
    updated_at = now()
RETURNING *
