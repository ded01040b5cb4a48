-- Rate limits: jobs of a rate key start at most per_second on average and at most burst at once, across
-- all brokers. A job of a rate key is gated like a job of a concurrency key (V18): written with
-- key_admitted = false, it waits in rate_waiting, not in the ready ring, until admission (admit_rates.sql)
-- spends one of the key's tokens on it; each attempt needs one (a retry, a release or an expired lease
-- sends the job back to wait). A token bucket per key: tokens saved up as of refilled_at, refilled at
-- per_second up to burst less `held`, the admitted jobs no worker had taken at the last pass (with that
-- pass's own): however long workers are busy, tokens and jobs admitted but not started never add up to
-- more than burst, so no window of W seconds sees more than burst + per_second * W starts. A job takes a
-- concurrency key or a rate key, not both.
ALTER TABLE live_jobs ADD COLUMN rate_key text;
ALTER TABLE job_history ADD COLUMN rate_key text;
ALTER TABLE type_registry ADD COLUMN default_rate_key text;

CREATE TABLE rate_limits (
    key         text             PRIMARY KEY,
    per_second  double precision NOT NULL CHECK (per_second > 0),
    burst       int              NOT NULL CHECK (burst >= 1),
    tokens      double precision NOT NULL,
    refilled_at timestamptz      NOT NULL,
    held        int              NOT NULL DEFAULT 0,
    set_by      text             NOT NULL,
    set_at      timestamptz      NOT NULL DEFAULT now()
);

-- The jobs of a key admitted and not finished (not yet started, or running): admission counts those not
-- started among them. Neither column changes at a claim, so claims stay HOT.
CREATE INDEX live_jobs_rate_admitted ON live_jobs (rate_key) WHERE key_admitted AND rate_key IS NOT NULL;

-- Jobs of rate keys waiting for a token, in claim order per key (entries are hints, as in key_waiting).
CREATE TABLE rate_waiting (
    job_id   bigint      PRIMARY KEY,
    key      text        NOT NULL,
    priority int         NOT NULL,
    run_at   timestamptz NOT NULL
);
CREATE INDEX rate_waiting_order ON rate_waiting (key, priority DESC, run_at, job_id);

CREATE OR REPLACE VIEW jobs AS
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
       concurrency_key, concurrency_limit, concurrency_strategy, key_admitted, rate_key
FROM live_jobs
UNION ALL
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all, trace_parent, trace_state, run_timeout_ms,
       concurrency_key, concurrency_limit, concurrency_strategy, key_admitted, rate_key
FROM job_history;
