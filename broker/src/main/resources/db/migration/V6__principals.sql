-- Jobwire schema, version 6: what a worker may see is bounded by its principal.

-- jobs.lease_principal now names the principal of the job's latest lease and stays after the lease
-- ends, so a stale write can be told apart: from that principal it hears why it was refused, from any
-- other it hears what an unknown id hears.

-- Stats shows a non-admin only its own worker streams.
ALTER TABLE worker_sessions ADD COLUMN principal text;

-- A worker id belongs to the principal that first used it: another principal cannot appear under it in
-- Stats or in a job's attempt history. Ids not seen for longer than the retention are forgotten.
CREATE TABLE worker_ids (
    worker_id     text        PRIMARY KEY,
    principal     text        NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);
