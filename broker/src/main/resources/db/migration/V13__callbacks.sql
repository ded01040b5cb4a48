-- Callbacks: a URL called when a job reaches a final state (or at every change of state), recorded in the
-- same commit as the change that causes it (an outbox), delivered by any broker, signed per the Standard
-- Webhooks spec with a secret of the job's owner.

ALTER TABLE live_jobs ADD COLUMN callback_url text;
ALTER TABLE live_jobs ADD COLUMN callback_all boolean NOT NULL DEFAULT false;
ALTER TABLE job_history ADD COLUMN callback_url text;
ALTER TABLE job_history ADD COLUMN callback_all boolean NOT NULL DEFAULT false;

CREATE OR REPLACE VIEW jobs AS
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all
FROM live_jobs
UNION ALL
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal, parent_id,
       callback_url, callback_all
FROM job_history;

-- One event to deliver to one URL. `snapshot` is the job's row as the event left it (without its lease
-- token, and without a payload above 64 KiB), so each event shows the job as it was then. A broker takes
-- due deliveries with SKIP LOCKED and moves next_attempt_at past the longest request, so a broker that dies
-- during the POST leaves the delivery to be taken again then.
CREATE TABLE callback_deliveries (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id          bigint      NOT NULL,
    owner           text        NOT NULL,
    url             text        NOT NULL,
    event           text        NOT NULL,
    snapshot        jsonb       NOT NULL,
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- where the retries stop: created_at plus the broker's retry window, moved on by a redelivery
    retry_until     timestamptz,
    finished_at     timestamptz,
    last_status     integer,
    last_error      text
);
-- The deliverers' scan: what is due.
CREATE INDEX callback_deliveries_due ON callback_deliveries (next_attempt_at) WHERE state = 'pending';
-- A job's deliveries (Get); an owner's, newest first (jobwire callbacks).
CREATE INDEX callback_deliveries_job ON callback_deliveries (job_id, id);
CREATE INDEX callback_deliveries_owner ON callback_deliveries (owner, id);

-- Every attempt: when, how long, the HTTP status and the first 4 KiB of the response, or the error.
CREATE TABLE callback_attempts (
    delivery_id bigint      NOT NULL REFERENCES callback_deliveries ON DELETE CASCADE,
    attempt     integer     NOT NULL,
    at          timestamptz NOT NULL,
    took_ms     bigint      NOT NULL,
    http_status integer,
    response    text,
    error       text,
    PRIMARY KEY (delivery_id, attempt)
);

-- The signing secret of each owner, in the whsec_ form; after a rotation the previous one signs too until
-- previous_until.
CREATE TABLE callback_secrets (
    owner          text        PRIMARY KEY,
    secret         text        NOT NULL,
    previous       text,
    previous_until timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    rotated_at     timestamptz
);

-- The outbox, written by the statement that changes the job, whatever statement that is (submit, claim,
-- finish, reaper, cancel, retry, hold, release). Statement triggers over the transition tables, like the
-- count triggers of V8 (which share them): a statement whose jobs have no callback reads its rows once and
-- writes nothing.
CREATE FUNCTION jobwire_callback_snapshot(job jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN pg_column_size(job -> 'payload') > 65536
                THEN job - 'lease_token' || jsonb_build_object('payload', 'null'::jsonb, 'payload_omitted', true)
                ELSE job - 'lease_token' END
$$;

-- Finished: every job with a callback.
CREATE FUNCTION jobwire_callback_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callback_deliveries (job_id, owner, url, event, snapshot)
    SELECT n.id, n.owner, n.callback_url, 'job.' || lower(n.state), jobwire_callback_snapshot(to_jsonb(n))
    FROM new_rows n
    WHERE n.callback_url IS NOT NULL
    ORDER BY n.id;
    RETURN NULL;
END $$;

-- Queued (a submit, or a retry bringing a job back from history): jobs that want every change.
CREATE FUNCTION jobwire_callback_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callback_deliveries (job_id, owner, url, event, snapshot)
    SELECT n.id, n.owner, n.callback_url, 'job.' || lower(n.state), jobwire_callback_snapshot(to_jsonb(n))
    FROM new_rows n
    WHERE n.callback_all
    ORDER BY n.id;
    RETURN NULL;
END $$;

-- A change of state of a live job (claimed, queued again, held, released): jobs that want every change.
CREATE FUNCTION jobwire_callback_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callback_deliveries (job_id, owner, url, event, snapshot)
    SELECT n.id, n.owner, n.callback_url, 'job.' || lower(n.state), jobwire_callback_snapshot(to_jsonb(n))
    FROM (SELECT * FROM new_rows WHERE callback_all) n
    JOIN old_rows o ON o.id = n.id
    WHERE o.state IS DISTINCT FROM n.state
    ORDER BY n.id;
    RETURN NULL;
END $$;

CREATE TRIGGER job_history_callback AFTER INSERT ON job_history
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobwire_callback_finished();
CREATE TRIGGER live_jobs_callback_inserted AFTER INSERT ON live_jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobwire_callback_inserted();
CREATE TRIGGER live_jobs_callback_updated AFTER UPDATE ON live_jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobwire_callback_updated();
