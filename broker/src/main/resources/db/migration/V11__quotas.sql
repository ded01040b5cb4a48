-- Limits an admin sets per owner, for all of its job types ('*'), the types under a prefix ('email.*') or one
-- type: jobs waiting or running at once (QUEUED, RUNNING or HELD), and jobs submitted per rolling minute,
-- hour and day. Null: no such limit. A submit of the owner's jobs locks the rows that cover them, so
-- submitters of one owner take turns and a limit holds exactly across every broker.
CREATE TABLE quotas (
    owner        text        NOT NULL,
    type_pattern text        NOT NULL,
    max_waiting  integer,
    per_minute   integer,
    per_hour     integer,
    per_day      integer,
    set_by       text        NOT NULL,
    set_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, type_pattern)
);

-- What was submitted under each quota, in buckets of a second (for the rolling minute), a minute (for the
-- hour) and an hour (for the day). Written in the submit's transaction; housekeeping removes buckets older
-- than a day.
CREATE TABLE quota_usage (
    owner        text        NOT NULL,
    type_pattern text        NOT NULL,
    span         text        NOT NULL CHECK (span IN ('second', 'minute', 'hour')),
    bucket       timestamptz NOT NULL,
    submitted    bigint      NOT NULL,
    PRIMARY KEY (owner, type_pattern, span, bucket),
    FOREIGN KEY (owner, type_pattern) REFERENCES quotas ON DELETE CASCADE
);

-- One more with every change of quotas, in the same commit: each broker reads it every second and reloads
-- which owners have quotas when it moved.
CREATE TABLE quotas_epoch (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    epoch    bigint  NOT NULL
);
INSERT INTO quotas_epoch (epoch) VALUES (0);
