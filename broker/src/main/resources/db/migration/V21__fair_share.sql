-- Fair share across owners within a type (a type registered with fair_weights): while several owners
-- have jobs of the type waiting, claims take them in turn.
--   fair_seq (live_jobs)   the job's turn: 0 for a type without fair share (its order is priority, run_at
--                          as before); for a fair type, given at insert from its owner's counter.
--   fair_seq (job_ready)   the claim's order after priority: the job's turn, or 2^62 while the entry is
--                          scheduled for later (so claims do not walk past it among the due ones); the
--                          ring's compaction gives a due entry its turn back.
--   fair_counters          per (type, owner), the turn after its last job (next_seq) and the span of the
--                          owner's last batch. A batch of an owner's jobs starts at the greater of the
--                          owner's next_seq and the type's clock: an owner without a backlog joins where
--                          the claims are, one with a backlog is behind it by that backlog, divided by its
--                          weight (a weight-w job takes 1,000,000 / w of turn).
--   fair_clock             per type, the furthest turn claimed (each broker writes what its claims took,
--                          every 100 ms; it only moves forward): where the claims are, without walking the
--                          ring to find its head.
ALTER TABLE type_registry ADD COLUMN fair_weights jsonb;
ALTER TABLE live_jobs ADD COLUMN fair_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE job_ready ADD COLUMN fair_seq bigint NOT NULL DEFAULT 0;
DROP INDEX job_ready_claim;
CREATE INDEX job_ready_claim ON job_ready (type, priority DESC, fair_seq, run_at, job_id);

CREATE TABLE fair_counters (
    type     text   NOT NULL,
    owner    text   NOT NULL,
    next_seq bigint NOT NULL,
    span     bigint NOT NULL,
    PRIMARY KEY (type, owner)
);

CREATE TABLE fair_clock (
    type text   PRIMARY KEY,
    turn bigint NOT NULL
);

-- The fair_seq of a ring entry scheduled for later: past every turn a counter can reach.
CREATE FUNCTION jobwire_fair_later() RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 4611686018427387904::bigint $$;
