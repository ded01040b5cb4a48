-- The ready entries of paused queues and types, out of the ring. Claims never take a paused job, but they
-- walk past its entries in claim order (priority, turn, age): a paused queue's backlog ahead of a type's
-- other queues made every claim of that type read it. The ring's pass moves a paused queue's or type's
-- entries here (all of them when a pause appears, then those written since, every second) and moves them
-- back when neither is paused any more; a resume moves its own back at once. An entry is a hint, as in the
-- ring: one whose job is no longer queued is dropped on the way back.
CREATE TABLE ready_parked (
    job_id   bigint      PRIMARY KEY,
    type     text        NOT NULL,
    queue    text        NOT NULL,
    priority int         NOT NULL,
    fair_seq bigint      NOT NULL,
    run_at   timestamptz NOT NULL
);
CREATE INDEX ready_parked_queue ON ready_parked (queue);
CREATE INDEX ready_parked_type ON ready_parked (type);
