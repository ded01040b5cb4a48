-- Jobwire schema, version 7: the claim path apart from history, in tables a long transaction cannot slow.
--
-- Every claim used to walk the index of queued jobs from its head. A claimed job leaves its QUEUED entry
-- behind, and while any transaction on the server is open (a report, pg_dump, a forgotten BEGIN) vacuum
-- may remove none of them: within minutes every claim walked past a million dead entries (BENCHMARKS.md,
-- "horizon"). Now:
--
--   live_jobs    the jobs not yet finished (QUEUED, RUNNING, HELD), reached only by primary key. With no
--                other index, a claim, a heartbeat or a release is a HOT update on its own page.
--   job_history  finished jobs (SUCCEEDED, FAILED, CANCELLED), moved there by the statement that finishes
--                them, in the same commit: a job is in exactly one of the two at every instant.
--   jobs         a view of both: every reader (and every query an operator wrote) keeps working.
--   job_ready    one entry per queued job, in the order claims take them; a claim deletes the entries it
--   job_leases   takes. One entry per running attempt, which the reaper looks at when the lease ends or
--                within 5 seconds, deletes, and writes anew if the job still runs. Both are rings of 16 segments
--                (list partitions); the database clock picks the segment new entries go to, a new one
--                each second. A segment whose entries are all gone is emptied with TRUNCATE, which
--                leaves no dead entry behind, whatever transaction is open: a claim walks at most the
--                entries of the last few seconds, never the history of the pin.
--   job_keys     idempotency keys, for live and finished jobs alike.

ALTER TABLE jobs RENAME TO live_jobs;
ALTER TABLE live_jobs RENAME CONSTRAINT jobs_pkey TO live_jobs_pkey;
ALTER TABLE live_jobs RENAME CONSTRAINT jobs_state_check TO live_jobs_state_check;

-- Finished jobs, partitioned by id so that a lookup by id reads one partition, and a partition of old
-- jobs can be dropped whole. Until retention by partition exists they all go to the default one.
CREATE TABLE job_history (
    id                bigint      NOT NULL,
    type              text        NOT NULL,
    queue             text        NOT NULL,
    state             text        NOT NULL CHECK (state IN ('SUCCEEDED', 'FAILED', 'CANCELLED')),
    priority          integer     NOT NULL,
    run_at            timestamptz NOT NULL,
    payload           jsonb       NOT NULL,
    labels            jsonb       NOT NULL,
    owner             text        NOT NULL,
    idempotency_key   text,
    max_attempts      integer     NOT NULL,
    attempt           integer     NOT NULL,
    spent_attempts    integer     NOT NULL,
    releases          integer     NOT NULL,
    errors            integer     NOT NULL,
    lease_duration_ms bigint      NOT NULL,
    retry_initial_ms  bigint,
    retry_max_ms      bigint,
    lease_token       uuid,
    lease_expires_at  timestamptz,
    worker_id         text,
    progress_percent  real,
    progress_message  text,
    progress_details  jsonb,
    progress_at       timestamptz,
    result            jsonb,
    last_error        text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz NOT NULL,
    version           bigint      NOT NULL,
    lease_principal   text,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE TABLE job_history_default PARTITION OF job_history DEFAULT;
-- List by type, by owner, and (for the rarer outcomes) by state, newest first.
CREATE INDEX job_history_type_id ON job_history (type, id);
CREATE INDEX job_history_owner_id ON job_history (owner, id);
CREATE INDEX job_history_state_id ON job_history (state, id) WHERE state <> 'SUCCEEDED';
-- Retention's search for jobs finished before the cutoff: a summary per range of pages, a few kilobytes
-- however long the history, and next to nothing to maintain (rows arrive in about finish order).
CREATE INDEX job_history_finished_at ON job_history USING brin (finished_at) WITH (autosummarize = on);
ALTER TABLE job_history_default SET (autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);

INSERT INTO job_history
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, coalesce(finished_at, updated_at), version, lease_principal
FROM live_jobs
WHERE state IN ('SUCCEEDED', 'FAILED', 'CANCELLED');

CREATE TABLE job_keys (
    owner           text   NOT NULL,
    idempotency_key text   NOT NULL,
    job_id          bigint NOT NULL,
    PRIMARY KEY (owner, idempotency_key)
);
CREATE INDEX job_keys_job_id ON job_keys (job_id);
INSERT INTO job_keys (owner, idempotency_key, job_id)
SELECT owner, idempotency_key, id FROM live_jobs WHERE idempotency_key IS NOT NULL;

DELETE FROM live_jobs WHERE state IN ('SUCCEEDED', 'FAILED', 'CANCELLED');
ALTER TABLE live_jobs DROP CONSTRAINT live_jobs_state_check;
ALTER TABLE live_jobs ADD CONSTRAINT live_jobs_state_check CHECK (state IN ('QUEUED', 'RUNNING', 'HELD'));
DROP INDEX IF EXISTS jobs_idempotency_key;
DROP INDEX IF EXISTS jobs_claimable;
DROP INDEX IF EXISTS jobs_running_leases;
DROP INDEX IF EXISTS jobs_finished_at;
ALTER TABLE live_jobs RESET (autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold);

-- The ring's segment for what is written now: a new one each second of the database clock, 16 in turn.
CREATE FUNCTION jobwire_segment() RETURNS smallint LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT (floor(extract(epoch FROM now()))::bigint % 16)::smallint $$;

CREATE TABLE job_ready (
    seg      smallint    NOT NULL,
    job_id   bigint      NOT NULL,
    type     text        NOT NULL,
    queue    text        NOT NULL,
    priority integer     NOT NULL,
    run_at   timestamptz NOT NULL
) PARTITION BY LIST (seg);
-- The claim's order; job_id alone finds an entry to delete.
CREATE INDEX job_ready_claim ON job_ready (type, priority DESC, run_at, job_id);

CREATE TABLE job_leases (
    seg      smallint    NOT NULL,
    job_id   bigint      NOT NULL,
    attempt  integer     NOT NULL,
    -- When the reaper looks at this attempt: its lease's end, or sooner (so no entry outlives its
    -- segment by much), and then writes a new entry if the lease was extended.
    check_at timestamptz NOT NULL
) PARTITION BY LIST (seg);
-- The reaper's scan: entries due now.
CREATE INDEX job_leases_check_at ON job_leases (check_at);

DO $$
BEGIN
    FOR s IN 0..15 LOOP
        EXECUTE format('CREATE TABLE job_ready_%s PARTITION OF job_ready FOR VALUES IN (%s)', s, s);
        EXECUTE format('CREATE TABLE job_leases_%s PARTITION OF job_leases FOR VALUES IN (%s)', s, s);
        EXECUTE format('ALTER TABLE job_ready_%s SET (autovacuum_vacuum_scale_factor = 0, '
                       'autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0)', s);
        EXECUTE format('ALTER TABLE job_leases_%s SET (autovacuum_vacuum_scale_factor = 0, '
                       'autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0)', s);
    END LOOP;
END $$;

INSERT INTO job_ready (seg, job_id, type, queue, priority, run_at)
SELECT jobwire_segment(), id, type, queue, priority, run_at FROM live_jobs WHERE state = 'QUEUED';
INSERT INTO job_leases (seg, job_id, attempt, check_at)
SELECT jobwire_segment(), id, attempt, least(coalesce(lease_expires_at, now()), now() + interval '5 seconds')
FROM live_jobs WHERE state = 'RUNNING';

-- Every job, live or finished: what readers query.
CREATE VIEW jobs AS
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal
FROM live_jobs
UNION ALL
SELECT id, type, queue, state, priority, run_at, payload, labels, owner, idempotency_key, max_attempts, attempt,
       spent_attempts, releases, errors, lease_duration_ms, retry_initial_ms, retry_max_ms, lease_token,
       lease_expires_at, worker_id, progress_percent, progress_message, progress_details, progress_at, result,
       last_error, created_at, updated_at, started_at, finished_at, version, lease_principal
FROM job_history;

-- The whole attempt history: attempts that ended other than in success, plus the attempt a running or
-- succeeded job holds in its own row.
CREATE OR REPLACE VIEW job_attempt_history AS
SELECT a.job_id, a.attempt, a.worker_id, a.started_at, a.finished_at, a.outcome, a.error
FROM job_attempts a
WHERE a.outcome <> 'running'
UNION ALL
SELECT j.id, j.attempt, j.worker_id, j.started_at, j.finished_at, lower(j.state), NULL
FROM jobs j
WHERE j.state IN ('RUNNING', 'SUCCEEDED')
  AND NOT EXISTS (SELECT 1 FROM job_attempts a
                  WHERE a.job_id = j.id AND a.attempt = j.attempt AND a.outcome <> 'running');
