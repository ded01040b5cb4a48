package io.jobwire.broker.store;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the ready and lease rings short (see migration V7): every second the database clock moves new
 * entries to the next of 16 segments, and this empties each segment table left behind with TRUNCATE as
 * soon as nothing is in it, so no claim or reaper scan ever walks the dead entries of more than a few
 * seconds, however long a transaction elsewhere holds back vacuum. A segment still holding ready entries
 * (jobs scheduled for later, or of a type no worker serves) has them moved to the segment of now when
 * they are few; lease entries leave by themselves (the reaper looks at each within five seconds). The
 * third ring, of count deltas, is rolled into job_counts at the start of each pass.
 *
 * <p>Every broker has one, and the pass runs on one broker at a time ({@link PassTurns}: once per interval
 * across the brokers); should two passes meet all the same (a test's {@code runNow}), they take turns on a
 * segment with an advisory lock. TRUNCATE waits at most {@link #LOCK_TIMEOUT_MS} for the claims that hold
 * the segment, then tries again next pass.
 */
public final class Ring {
    private static final Logger log = LoggerFactory.getLogger(Ring.class);
    private static final String READY = "job_ready_";
    /** Ready entries moved out of an old segment at most; a fuller one (a backlog) is left to claims. */
    static final int MAX_COMPACTED = 5_000;
    static final int LOCK_TIMEOUT_MS = 100;
    /**
     * Rows the statistics must show in a segment for a pass to leave it alone: a backlog, which claims
     * drain. Locking it to look would only hold up the claims (the lock waits for those in flight and
     * every claim behind it waits for the lock) and read past the entries they deleted.
     */
    static final long BACKLOG_ROWS = 2L * MAX_COMPACTED;
    /** Seconds since a ready segment was current before its remaining entries are moved on. */
    private static final int MIN_AGE_TO_COMPACT = 2;
    /** The advisory lock of the counts: the roll-up, and whatever deletes counts, hold it. */
    static final String COUNTS = "jobwire.counts";

    private final Jdbi jdbi;

    public Ring(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** One pass over the segments behind; returns the segment tables it emptied. */
    public List<String> clear() {
        rollUpCounts();
        List<String> emptied = new ArrayList<>();
        segmentsToLookAt().forEach((table, age) -> {
            // The segment just left still has entries claims are about to take: moving them would be churn.
            boolean old = age >= MIN_AGE_TO_COMPACT;
            if (truncateIfEmpty(table) || old && table.startsWith(READY) && compact(table) && truncateIfEmpty(table)) {
                emptied.add(table);
            }
        });
        return emptied;
    }

    /**
     * The segment tables behind the one of now that hold anything, with their age in seconds, but those
     * the statistics say hold a backlog ({@link #BACKLOG_ROWS}).
     */
    Map<String, Integer> segmentsToLookAt() {
        Map<String, Integer> used = new LinkedHashMap<>();
        jdbi.useHandle(handle -> handle.createQuery(Sql.load(Ring.class, "ring_used_segments"))
                .bind("backlogRows", BACKLOG_ROWS)
                .map((rs, ctx) -> used.put(rs.getString("name"), rs.getInt("age")))
                .list());
        return used;
    }

    /**
     * Moves the count deltas (migration V8) into job_counts and deletes the counts left at zero, so that the
     * delta segments behind are empty for TRUNCATE. Returns the deltas moved; -1 if another broker is at it.
     */
    public long rollUpCounts() {
        return Turns.take(jdbi, COUNTS, null, 0, handle -> {
            long deltas = handle.createQuery(Sql.load(Ring.class, "counts_roll_up"))
                    .map((rs, ctx) -> rs.getLong("deltas"))
                    .one();
            if (deltas > 0) {
                handle.execute("DELETE FROM job_counts WHERE jobs = 0");
            }
            return deltas;
        }).orElse(-1L);
    }

    /**
     * TRUNCATE of the segment table, if nothing in it is visible once no one else can write to it: the
     * ACCESS EXCLUSIVE lock waits for every transaction that wrote to it (or is about to) to end.
     */
    private boolean truncateIfEmpty(String table) {
        return Turns.take(jdbi, "jobwire.ring", table, LOCK_TIMEOUT_MS, handle -> {
            handle.execute("LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE");
            boolean empty = handle.createQuery("SELECT NOT EXISTS (SELECT 1 FROM " + table + ")")
                    .mapTo(Boolean.class)
                    .one();
            if (empty) {
                handle.execute("TRUNCATE " + table);
            }
            return empty;
        }).orElse(false);
    }

    /** Moves the ready segment's entries to the segment of now when they are few; true if it did. */
    private boolean compact(String table) {
        int ready = jdbi.withHandle(handle -> handle.createQuery("SELECT count(*) FROM (SELECT 1 FROM " + table
                        + " LIMIT " + (MAX_COMPACTED + 1) + ") r")
                .mapTo(Integer.class)
                .one());
        if (ready == 0 || ready > MAX_COMPACTED) {
            return false;
        }
        jdbi.useTransaction(handle -> handle.createQuery(Sql.load(Ring.class, "ring_compact").replace("{segment}", table))
                .map((rs, ctx) -> {
                    log.debug("{}: moved {} ready entries, kept {}", table, rs.getLong("moved"), rs.getLong("kept"));
                    return null;
                })
                .one());
        return true;
    }
}
