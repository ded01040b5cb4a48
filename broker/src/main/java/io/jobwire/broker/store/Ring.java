package io.jobwire.broker.store;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.StringJoiner;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the ready and lease rings short (see migration V7): every second the database clock moves new
 * entries to the next of 16 segments, and this empties each segment table left behind with TRUNCATE as
 * soon as nothing is in it, so no claim or reaper scan ever walks the dead entries of more than a few
 * seconds, however long a transaction elsewhere holds back vacuum. A segment still holding ready entries
 * (jobs scheduled for later, or of a type no worker serves) has them moved to the segment of now when
 * they are few; lease entries leave by themselves (the reaper looks at each within five seconds). The
 * third ring, of count deltas, is rolled into job_counts at the start of each pass. The ready entries of
 * paused queues and types are parked out of the ring ({@link #parkPaused}, migration V25).
 *
 * <p>Every broker has one, and the pass runs on one broker at a time ({@link PassTurns}: once per interval
 * across the brokers); should two passes meet all the same (a test's {@code runNow}), they take turns on a
 * segment with an advisory lock. TRUNCATE asks for its lock without waiting first; if claims hold the
 * segment it waits {@link #FIRST_LOCK_WAIT_MS} for them, then tries again next pass, waiting twice as long
 * each time up to {@link #LOCK_TIMEOUT_MS}. The lock, the check and the TRUNCATE are one statement (V26).
 */
public final class Ring {
    private static final Logger log = LoggerFactory.getLogger(Ring.class);
    private static final String READY = "job_ready_";
    /** Ready entries moved out of an old segment at most; a fuller one (a backlog) is left to claims. */
    static final int MAX_COMPACTED = 5_000;
    /**
     * How long TRUNCATE's lock waits for the claims that hold the segment, at first: every claim and insert
     * that comes meanwhile waits behind it, so a wait is a stall of the queue. Doubled for each pass that
     * found the segment still held, up to {@link #LOCK_TIMEOUT_MS}, so a segment under claims that never
     * pause is emptied all the same.
     */
    static final int FIRST_LOCK_WAIT_MS = 10;
    static final int LOCK_TIMEOUT_MS = 100;
    /**
     * Rows a count must find in a segment for a pass to leave it alone: a backlog, which claims drain.
     * Locking it to look would only hold up the claims (the lock waits for those in flight and every claim
     * behind it waits for the lock). Counted, not taken from the statistics: their live rows are inserted
     * less deleted as each backend sends its counts, clamped at zero, so deletes sent before the inserts
     * they undo leave the figure high for good, and a segment behind it would never be emptied.
     */
    static final long BACKLOG_ROWS = 2L * MAX_COMPACTED;
    /** Seconds since a ready segment was current before its remaining entries are moved on. */
    private static final int MIN_AGE_TO_COMPACT = 2;
    /** The advisory lock of the counts: the roll-up, and whatever deletes counts, hold it. */
    static final String COUNTS = "jobwire.counts";

    /** A segment claims will have emptied within this time, at the pace they took its entries lately, is left to them. */
    static final Duration DRAINED_SOON = Duration.ofSeconds(5);

    private final Jdbi jdbi;
    private final Clock clock;
    /** The ready entries of each old segment when this broker last looked, and when: how fast claims drain it. */
    private final Map<String, Look> looks = new HashMap<>();
    /** How long the next TRUNCATE of each segment may wait for its lock, if the last one gave up. */
    private final Map<String, Integer> lockWaits = new HashMap<>();
    /** The pauses this broker's last pass parked for: a pause not among them has the whole ring looked at. */
    private Set<String> parkedFor = Set.of();
    /** When this broker last looked at the whole ring for paused entries. */
    private Instant wholeRingParked = Instant.MIN;
    /**
     * How often the whole ring is looked at while something is paused: for entries written to a segment
     * that holds a backlog (never copied on) while the passes fell more than two seconds behind.
     */
    static final Duration WHOLE_RING_PARKING = Duration.ofMinutes(1);

    private record Look(long ready, Instant at) {
    }

    public Ring(Jdbi jdbi, Clock clock) {
        this.jdbi = jdbi;
        this.clock = clock;
    }

    /** A segment table behind the one of now that holds pages: seconds since it was the segment of now, and its rows (counted up to {@link #BACKLOG_ROWS} + 1). */
    record Segment(String table, int age, long rows) {
    }

    /** One pass over the segments behind; returns the segment tables it emptied. */
    public List<String> clear() {
        rollUpCounts();
        parkPaused();
        List<String> emptied = new ArrayList<>();
        for (Segment segment : segmentsToLookAt()) {
            String table = segment.table();
            // A segment with entries is not locked to look: claims, or the reaper, are about to take them,
            // unless it is old enough for its ready entries to be moved on. The segment just left still has
            // entries claims are about to take: moving them would be churn.
            boolean old = segment.age() >= MIN_AGE_TO_COMPACT;
            if (segment.rows() == 0 && truncateIfEmpty(table)
                    || segment.rows() > 0 && old && table.startsWith(READY) && compact(table, segment.rows()) && truncateIfEmpty(table)) {
                emptied.add(table);
                looks.remove(table);
            }
        }
        return emptied;
    }

    /**
     * The segment tables behind the one of now that hold anything, with their age and their rows, but
     * those that hold a backlog ({@link #BACKLOG_ROWS}). The rows are counted, without a lock, up to one
     * more than that: a scan that reads what the segment holds, and under a pinned horizon the dead
     * entries of its last cycle too (about what one claim walks).
     */
    List<Segment> segmentsToLookAt() {
        return jdbi.inTransaction(handle -> {
            Map<String, Integer> used = new LinkedHashMap<>();
            handle.createQuery(Sql.load(Ring.class, "ring_used_segments"))
                    .map((rs, ctx) -> used.put(rs.getString("name"), rs.getInt("age")))
                    .list();
            if (used.isEmpty()) {
                return List.of();
            }
            // Never stuck behind another session's lock on a segment: the pass tries again next time.
            handle.execute("SET LOCAL lock_timeout = '" + LOCK_TIMEOUT_MS + "ms'");
            StringJoiner counts = new StringJoiner(" UNION ALL ");
            used.keySet().forEach(table -> counts.add("SELECT '" + table + "' AS name, (SELECT count(*) FROM (SELECT 1 FROM "
                    + table + " LIMIT " + (BACKLOG_ROWS + 1) + ") r) AS rows"));
            List<Segment> segments = new ArrayList<>();
            handle.createQuery(counts.toString())
                    .map((rs, ctx) -> new Segment(rs.getString("name"), used.get(rs.getString("name")), rs.getLong("rows")))
                    .forEach(segment -> {
                        if (segment.rows() > BACKLOG_ROWS) {
                            log.debug("{}: a backlog, left to claims", segment.table());
                        } else {
                            segments.add(segment);
                        }
                    });
            return segments;
        });
    }

    /** What a parking pass moved: entries parked, and entries moved back into the ring. */
    record Parking(long parked, long unparked) {
    }

    /**
     * Parks the ready entries of paused queues and types in {@code ready_parked}: of the whole ring when a
     * pause this broker had not parked for appeared (on any broker), else of the segments of the last
     * {@link #MIN_AGE_TO_COMPACT} seconds and of now, where entries are written (older ones are copied on
     * to the segment of now by the ring's move, unless a backlog); and
     * moves back those of queues and types no longer paused (a resume on a broker that died before moving
     * them, or a pause ended while the statement that parked them ran). The whole ring is looked at once a
     * minute too ({@link #WHOLE_RING_PARKING}) while anything is paused.
     */
    Parking parkPaused() {
        List<String> pauses = jdbi.withHandle(handle -> handle.createQuery("SELECT kind || ':' || name FROM pauses")
                .mapTo(String.class)
                .list());
        long parked = 0;
        if (!pauses.isEmpty()) {
            Instant now = clock.instant();
            boolean whole = !parkedFor.containsAll(pauses) || !now.isBefore(wholeRingParked.plus(WHOLE_RING_PARKING));
            if (whole) {
                wholeRingParked = now;
            }
            List<String> rings = whole ? List.of("job_ready") : jdbi.withHandle(handle -> handle.createQuery(
                            "SELECT 'job_ready_' || ((jobwire_segment() - age + 16) % 16) FROM generate_series(0, :ages) AS age")
                    .bind("ages", MIN_AGE_TO_COMPACT)
                    .mapTo(String.class)
                    .list());
            for (String ring : rings) {
                parked += jdbi.inTransaction(handle -> handle.createQuery(Sql.load(Ring.class, "park_entries").replace("{ring}", ring))
                        .mapTo(Long.class)
                        .one());
            }
        }
        parkedFor = Set.copyOf(pauses);
        long unparked = unpark(jdbi);
        if (parked > 0 || unparked > 0) {
            log.debug("parked {} ready entries of paused queues and types, moved {} back", parked, unparked);
        }
        return new Parking(parked, unparked);
    }

    /** Moves the parked entries of what is no longer paused back into the ring; returns how many. */
    static long unpark(Jdbi jdbi) {
        return jdbi.inTransaction(handle -> handle.createQuery(Sql.load(Ring.class, "unpark_entries"))
                .mapTo(Long.class)
                .one());
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

    /** How long the next TRUNCATE of the segment table will wait for its lock. */
    int lockWait(String table) {
        return lockWaits.getOrDefault(table, FIRST_LOCK_WAIT_MS);
    }

    /** Whether claims took entries since the last look fast enough to take the rest within {@link #DRAINED_SOON}. */
    private static boolean drainedSoon(Look before, Look now) {
        long taken = before.ready() - now.ready();
        if (taken <= 0) {
            return false;
        }
        long elapsedMs = Math.max(1, Duration.between(before.at(), now.at()).toMillis());
        return now.ready() * elapsedMs < taken * DRAINED_SOON.toMillis();
    }

    /**
     * TRUNCATE of the segment table, if nothing in it is visible once no one else can write to it: the
     * ACCESS EXCLUSIVE lock waits for every transaction that wrote to it (or is about to) to end. One
     * statement (V26's {@code jobwire_truncate_if_empty}) in autocommit: the claims queued behind the lock
     * wait for the server's work only, not for this broker's round trips.
     */
    private boolean truncateIfEmpty(String table) {
        int wait = lockWait(table);
        Optional<Boolean> looked;
        try {
            looked = jdbi.withHandle(handle -> handle.createQuery("SELECT jobwire_truncate_if_empty(CAST(:segment AS regclass), :wait)")
                    .bind("segment", table)
                    .bind("wait", wait)
                    .map((rs, ctx) -> Optional.ofNullable((Boolean) rs.getObject(1)))
                    .one());
        } catch (JdbiException e) {
            if (!Transactions.hasSqlState(e, Turns.LOCK_NOT_AVAILABLE)) {
                throw e;
            }
            log.debug("{}: held by claims for {} ms, emptied on a later pass", table, wait);
            lockWaits.put(table, Math.min(LOCK_TIMEOUT_MS, 2 * wait));
            return false;
        }
        if (looked.isEmpty()) {
            return false; // another broker is at it
        }
        lockWaits.remove(table);
        return looked.get();
    }

    /**
     * Moves the ready segment's entries (counted: {@code ready}) to the segment of now when they are few and
     * claims are not about to take them all (nor did this broker look before: it cannot tell yet); true if it did.
     */
    private boolean compact(String table, long ready) {
        Look now = new Look(ready, clock.instant());
        Look before = looks.put(table, now);
        if (ready > MAX_COMPACTED || before == null || drainedSoon(before, now)) {
            return false;
        }
        // Copied in one transaction, the originals deleted in the next: claims never find them locked.
        Long[] jobs = jdbi.inTransaction(handle -> handle.createQuery(Sql.load(Ring.class, "ring_compact").replace("{segment}", table))
                .map((rs, ctx) -> {
                    Long[] read = (Long[]) rs.getArray("jobs").getArray();
                    log.debug("{}: copied {} of {} ready entries", table, rs.getLong("kept"), read.length);
                    return read;
                })
                .one());
        jdbi.useTransaction(handle -> handle.createUpdate(Sql.load(Ring.class, "ring_compact_delete").replace("{segment}", table))
                .bind("jobs", jobs)
                .execute());
        return true;
    }
}
