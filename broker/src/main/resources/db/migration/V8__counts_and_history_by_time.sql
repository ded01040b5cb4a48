-- Jobwire schema, version 8: counts kept as jobs change, and history partitioned by finish time.
--
--   job_counts        jobs per (owner, type, queue, state, bucket) with their attempts and errors. The
--                     bucket of a queued job is its run_at to the second (Stats' scheduled count and oldest
--                     wait), of a finished one its finish hour (so a dropped history partition takes its
--                     counts with it, and jobs per hour are there to read). Stats reads these few
--                     hundred rows, never the jobs themselves, whatever the backlog.
--   job_count_deltas  what each statement changed, written by the statement-level triggers below in the
--                     statement's own transaction (so a count is never ahead of or behind the jobs a
--                     reader can see), rolled into job_counts every half second by store/Ring, and a ring
--                     of 16 segments emptied with TRUNCATE like job_ready: no dead rows behind a long
--                     transaction.
--   job_history       now partitioned by finished_at: a partition per span of time (a day for the
--                     default retention of 7 days), created ahead by store/HistoryPartitions and dropped
--                     whole once its last job is past the retention. The default partition catches what
--                     no partition covers; its old rows (and those of job_history_before, the history
--                     this migration found) are deleted in small batches as before.

-- The bucket a job is counted in: a queued one by the second it is due, a finished one by the UTC hour it
-- finished (history partitions span whole UTC hours), a running or held one in a single bucket. date_bin
-- from the epoch, unlike date_trunc, does not depend on the session's time zone (a trigger runs in every
-- session that writes, an operator's psql too), and is plain integer arithmetic.
CREATE FUNCTION jobwire_bucket(state text, run_at timestamptz, finished_at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN state = 'QUEUED' THEN date_bin('1 second', run_at, '1970-01-01 00:00:00+00')
            WHEN state IN ('SUCCEEDED', 'FAILED', 'CANCELLED') THEN date_bin('1 hour', finished_at, '1970-01-01 00:00:00+00')
            ELSE '-infinity'::timestamptz END
$$;

CREATE TABLE job_counts (
    owner    text        NOT NULL,
    type     text        NOT NULL,
    queue    text        NOT NULL,
    state    text        NOT NULL,
    bucket      timestamptz NOT NULL,
    jobs     bigint      NOT NULL,
    attempts bigint      NOT NULL,
    errors   bigint      NOT NULL,
    PRIMARY KEY (owner, type, queue, state, bucket)
);

CREATE TABLE job_count_deltas (
    seg      smallint    NOT NULL DEFAULT jobwire_segment(),
    owner    text        NOT NULL,
    type     text        NOT NULL,
    queue    text        NOT NULL,
    state    text        NOT NULL,
    bucket      timestamptz NOT NULL,
    jobs     bigint      NOT NULL,
    attempts bigint      NOT NULL,
    errors   bigint      NOT NULL
) PARTITION BY LIST (seg);

DO $$
BEGIN
    FOR s IN 0..15 LOOP
        EXECUTE format('CREATE TABLE job_count_deltas_%s PARTITION OF job_count_deltas FOR VALUES IN (%s)', s, s);
        EXECUTE format('ALTER TABLE job_count_deltas_%s SET (autovacuum_vacuum_scale_factor = 0, '
                       'autovacuum_vacuum_threshold = 2000, autovacuum_vacuum_cost_delay = 0)', s);
    END LOOP;
END $$;

-- Each trigger sums what its statement changed: a row counts +1 (with its attempts and errors) where it
-- is now and -1 where it was. A heartbeat changes no count and writes nothing.
CREATE FUNCTION jobwire_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_deltas (owner, type, queue, state, bucket, jobs, attempts, errors)
    SELECT owner, type, queue, state, jobwire_bucket(state, run_at, finished_at), count(*), sum(attempt), sum(errors)
    FROM new_rows
    GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END $$;

CREATE FUNCTION jobwire_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_deltas (owner, type, queue, state, bucket, jobs, attempts, errors)
    SELECT owner, type, queue, state, jobwire_bucket(state, run_at, finished_at), -count(*), -sum(attempt), -sum(errors)
    FROM old_rows
    GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END $$;

CREATE FUNCTION jobwire_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_count_deltas (owner, type, queue, state, bucket, jobs, attempts, errors)
    SELECT owner, type, queue, state, bucket, sum(jobs), sum(attempts), sum(errors)
    FROM (SELECT owner, type, queue, state, jobwire_bucket(state, run_at, finished_at) AS bucket, 1 AS jobs,
                 attempt AS attempts, errors
          FROM new_rows
          UNION ALL
          SELECT owner, type, queue, state, jobwire_bucket(state, run_at, finished_at), -1, -attempt, -errors
          FROM old_rows) AS changed
    GROUP BY 1, 2, 3, 4, 5
    HAVING sum(jobs) <> 0 OR sum(attempts) <> 0 OR sum(errors) <> 0;
    RETURN NULL;
END $$;

-- TRUNCATE of live_jobs or job_history (an operator's, or a benchmark's) empties their counts too.
CREATE FUNCTION jobwire_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    states text[] := CASE WHEN TG_TABLE_NAME = 'live_jobs' THEN ARRAY['QUEUED', 'RUNNING', 'HELD']
                          ELSE ARRAY['SUCCEEDED', 'FAILED', 'CANCELLED'] END;
BEGIN
    DELETE FROM job_counts WHERE state = ANY (states);
    DELETE FROM job_count_deltas WHERE state = ANY (states);
    RETURN NULL;
END $$;

-- History by finish time. The history found here becomes the partition job_history_before (up to the end
-- of this hour); later finishes go to the partitions created ahead, or to the default one.
DROP VIEW job_attempt_history;
DROP VIEW jobs;
ALTER TABLE job_history DETACH PARTITION job_history_default;
DROP TABLE job_history;
ALTER TABLE job_history_default RENAME TO job_history_before;
ALTER TABLE job_history_before DROP CONSTRAINT job_history_default_pkey;
ALTER INDEX job_history_default_finished_at_idx RENAME TO job_history_before_finished_at;

CREATE TABLE job_history (
    id                bigint      NOT NULL,
    type              text        NOT NULL,
    queue             text        NOT NULL,
    state             text        NOT NULL CONSTRAINT job_history_state_check
                                  CHECK (state IN ('SUCCEEDED', 'FAILED', 'CANCELLED')),
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
    lease_principal   text
) PARTITION BY RANGE (finished_at);
-- A Get by id probes this in each partition (about eight, by the span). Not a primary key: that of a
-- partitioned table must hold finished_at, and an index led by id that also holds finished_at is one the
-- planner may walk whole for retention's "finished before" (the BRIN index is there for that). Ids are
-- unique by the sequence, and a job moves here once, by the statement that deletes it from live_jobs.
CREATE INDEX job_history_id ON job_history (id);
CREATE INDEX job_history_type_id ON job_history (type, id);
CREATE INDEX job_history_owner_id ON job_history (owner, id);
CREATE INDEX job_history_state_id ON job_history (state, id) WHERE state <> 'SUCCEEDED';

-- The partitions of job_history but the default one, and the span of finish times each holds.
CREATE TABLE job_history_parts (
    name   text PRIMARY KEY,
    -- NULL: from the beginning of time.
    starts timestamptz,
    ends   timestamptz NOT NULL
);

DO $$
DECLARE
    upto timestamptz := date_bin('1 hour', now(), '1970-01-01 00:00:00+00') + interval '1 hour';
BEGIN
    -- Validated by one scan here, so that attaching needs none.
    EXECUTE format('ALTER TABLE job_history_before ADD CONSTRAINT job_history_before_range CHECK (finished_at < %L)', upto);
    EXECUTE format('ALTER TABLE job_history ATTACH PARTITION job_history_before FOR VALUES FROM (MINVALUE) TO (%L)', upto);
    INSERT INTO job_history_parts VALUES ('job_history_before', NULL, upto);
END $$;
CREATE TABLE job_history_default PARTITION OF job_history DEFAULT;
-- Only the default partition (and job_history_before) are pruned row by row: through this.
CREATE INDEX job_history_default_finished_at ON job_history_default USING brin (finished_at) WITH (autosummarize = on);
ALTER TABLE job_history_default SET (autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);

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

CREATE VIEW job_attempt_history AS
SELECT a.job_id, a.attempt, a.worker_id, a.started_at, a.finished_at, a.outcome, a.error
FROM job_attempts a
WHERE a.outcome <> 'running'
UNION ALL
SELECT j.id, j.attempt, j.worker_id, j.started_at, j.finished_at, lower(j.state), NULL
FROM jobs j
WHERE j.state IN ('RUNNING', 'SUCCEEDED')
  AND NOT EXISTS (SELECT 1 FROM job_attempts a
                  WHERE a.job_id = j.id AND a.attempt = j.attempt AND a.outcome <> 'running');

-- The counts of what is there now, then the triggers, with writers locked out in between.
LOCK TABLE live_jobs, job_history IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO job_counts (owner, type, queue, state, bucket, jobs, attempts, errors)
SELECT owner, type, queue, state, jobwire_bucket(state, run_at, finished_at), count(*), sum(attempt), sum(errors)
FROM jobs
GROUP BY 1, 2, 3, 4, 5;

CREATE TRIGGER live_jobs_count_inserted AFTER INSERT ON live_jobs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobwire_count_inserted();
CREATE TRIGGER live_jobs_count_updated AFTER UPDATE ON live_jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobwire_count_updated();
CREATE TRIGGER live_jobs_count_deleted AFTER DELETE ON live_jobs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobwire_count_deleted();
CREATE TRIGGER live_jobs_count_truncated AFTER TRUNCATE ON live_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION jobwire_count_truncated();
CREATE TRIGGER job_history_count_inserted AFTER INSERT ON job_history
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobwire_count_inserted();
CREATE TRIGGER job_history_count_updated AFTER UPDATE ON job_history
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobwire_count_updated();
CREATE TRIGGER job_history_count_deleted AFTER DELETE ON job_history
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobwire_count_deleted();
CREATE TRIGGER job_history_count_truncated AFTER TRUNCATE ON job_history
    FOR EACH STATEMENT EXECUTE FUNCTION jobwire_count_truncated();
