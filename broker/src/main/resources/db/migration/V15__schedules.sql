-- Schedules: a cron expression in a time zone, or a fixed interval, that submits a job at each fire. Any
-- broker fires a due schedule (its row locked with SKIP LOCKED, so one broker at a time); each fire is
-- submitted with the idempotency key "schedule:<name>:<fire time>" before the row moves on, so a broker
-- that dies in between leaves the fire to the next, which finds the same job by its key: never doubled,
-- never lost.
CREATE TABLE schedules (
    owner        text        NOT NULL,
    name         text        NOT NULL,
    type         text        NOT NULL,
    -- the JobSpec each fire submits, in protobuf's JSON form
    job          jsonb       NOT NULL,
    cron         text,
    zone         text,
    every_ms     bigint,
    missed       text        NOT NULL DEFAULT 'once' CHECK (missed IN ('skip', 'once', 'all')),
    paused       boolean     NOT NULL DEFAULT false,
    next_fire_at timestamptz NOT NULL,
    last_fire_at timestamptz,
    last_job_id  bigint,
    fires        bigint      NOT NULL DEFAULT 0,
    last_error   text,
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, name),
    CHECK ((cron IS NULL) <> (every_ms IS NULL))
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE NOT paused;
