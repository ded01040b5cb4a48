-- Queues and job types an admin paused: no claim takes a job of them (claim_jobs.sql reads this table
-- once per statement) until the row is deleted. Tiny and rarely written, so a claim's look at it costs
-- an index probe per type and one small scan.
CREATE TABLE pauses (
    kind      text        NOT NULL CHECK (kind IN ('queue', 'type')),
    name      text        NOT NULL,
    reason    text        NOT NULL DEFAULT '',
    paused_by text        NOT NULL,
    paused_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name)
);
