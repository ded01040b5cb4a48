-- Jobwire schema, version 9: turns at the background passes the brokers share.
--
--   maintenance_turns  one row per shared pass (the reaper, the ring, housekeeping): when a broker last
--                      ran it, and which. Every broker schedules every pass, but runs one only if no
--                      broker ran it within most of its interval (store/PassTurns), so three brokers do
--                      the maintenance of one: each pass repeated per broker locked ring segments, scanned
--                      lease entries and analyzed tables three times as often, and held up the claims and
--                      inserts behind its locks. If the broker that ran a pass stops, another takes the
--                      next turn within two intervals.
CREATE TABLE maintenance_turns (
    pass      text PRIMARY KEY,
    ran_at    timestamptz NOT NULL,
    broker_id text NOT NULL
) WITH (fillfactor = 50);
