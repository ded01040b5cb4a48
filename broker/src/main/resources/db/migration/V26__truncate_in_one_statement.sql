-- Emptying a ring segment in one statement. The segment's ACCESS EXCLUSIVE lock holds up every claim (a
-- claim reads all sixteen segments) from the moment it is asked for until the commit. Taken by the broker
-- statement by statement, it was held across three round trips (the check that the segment is empty, the
-- TRUNCATE, the COMMIT), each waiting for the broker's thread to be scheduled again: 30-70 ms on a loaded
-- machine, once a second, and every job submitted in that window waited for it. Here the lock, the check,
-- the TRUNCATE and the commit (the statement's own, in autocommit) follow one another in the server.
--
-- Returns NULL when another broker has the segment's turn; raises lock_not_available (55P03) when the
-- claims holding the segment did not let go within wait_ms (the ring tries again on a later pass).
CREATE FUNCTION jobwire_truncate_if_empty(segment regclass, wait_ms integer) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    empty boolean;
    locked boolean := false;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('jobwire.ring'), hashtext(segment::text)) THEN
        RETURN NULL;
    END IF;
    -- A TRUNCATE of an empty segment lost in a crash leaves the segment as it was: no need to wait for the
    -- WAL flush while claims queue behind the lock.
    PERFORM set_config('synchronous_commit', 'off', true);
    -- A lock request that waits queues every later claim behind it, so the lock is first asked for without
    -- waiting, a few times a couple of milliseconds apart (between two claims); only when claims never
    -- let go is it waited for, at most wait_ms.
    FOR attempt IN 1..10 LOOP
        BEGIN
            EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE NOWAIT', segment);
            locked := true;
        EXCEPTION WHEN lock_not_available THEN
            PERFORM pg_sleep(0.002);
        END;
        EXIT WHEN locked;
    END LOOP;
    IF NOT locked THEN
        PERFORM set_config('lock_timeout', wait_ms || 'ms', true);
        EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', segment);
    END IF;
    EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s)', segment) INTO empty;
    IF empty THEN
        EXECUTE format('TRUNCATE %s', segment);
    END IF;
    RETURN empty;
END
$$;
