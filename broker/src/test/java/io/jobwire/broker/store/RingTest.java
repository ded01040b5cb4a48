package io.jobwire.broker.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.jobwire.broker.db.Database;
import io.jobwire.broker.store.WorkerWrites.Completion;
import io.jobwire.broker.testing.Slowness;
import io.jobwire.broker.testing.TestClock;
import io.jobwire.broker.testing.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ready and lease rings (migration V7): with a transaction holding the MVCC horizon open, so that
 * vacuum may remove nothing, jobs keep flowing and the segments they passed through are emptied with
 * TRUNCATE, with no job lost or run twice; entries of jobs held or cancelled since take no claim's
 * place; a job due later outlives the segment it was queued in.
 */
class RingTest {
    private static String url;
    private static Database db;
    private static JobStore store;
    private static Ring ring;
    private static final TestClock clock = new TestClock(Instant.parse("2026-12-01T12:00:00Z"));

    @BeforeAll
    static void open() {
        url = TestPostgres.newDatabase();
        db = Database.connect(url, 4, Duration.ofSeconds(5), "test");
        db.migrate();
        store = new JobStore(db.jdbi(), db.keyedJdbi(), new ObjectMapper(), ChangeSink.NONE, RetryDefaults.STANDARD,
                () -> 1.0);
        ring = new Ring(db.jdbi(), clock);
    }

    @AfterAll
    static void close() {
        db.close();
    }

    private static NewJob job(String type, int priority, long delayMs) {
        return new NewJob(type, "default", "{}", priority, null, delayMs, null, 5, 30_000, Map.of(), null, null, "test");
    }

    private static ClaimRequest claim(String type, int limit) {
        return new ClaimRequest("ring-worker", null, List.of(new ClaimRequest.TypeQuota(type, limit)), List.of(), limit);
    }

    /** A session idle in a transaction that holds a snapshot: vacuum and pruning may remove nothing newer. */
    private static Connection pinHorizon() throws SQLException {
        Connection pin = DriverManager.getConnection(url);
        pin.setAutoCommit(false);
        pin.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        try (Statement statement = pin.createStatement()) {
            statement.execute("SELECT count(*) FROM pg_class");
            try (ResultSet rs = statement.executeQuery(
                    "SELECT backend_xmin IS NOT NULL FROM pg_stat_activity WHERE pid = pg_backend_pid()")) {
                rs.next();
                assertThat(rs.getBoolean(1)).as("the open transaction holds a snapshot: the horizon").isTrue();
            }
        }
        return pin;
    }

    private static long query(String sql) {
        return db.jdbi().withHandle(h -> h.createQuery(sql).mapTo(Long.class).one());
    }

    private static int segmentNow() {
        return (int) query("SELECT jobwire_segment()");
    }

    /** Settles every due lease entry, as the reaper's passes do. */
    private static void reap() {
        while (store.reapExpired(2_000, () -> { }).more()) {
            // more due
        }
    }

    private static List<Long> submit(String type, String queue, int count) {
        List<NewJob> jobs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            jobs.add(new NewJob(type, queue, "{}", 0, null, 0, null, 5, 30_000, Map.of(), null, null, "test"));
        }
        return store.insert(jobs).stream().map(outcome -> outcome.job().id()).toList();
    }

    @Test
    void aPausedQueuesEntriesLeaveTheRingAndComeBackOnceItIsNoLongerPaused() {
        String type = "ring.paused";
        PauseStore pauses = new PauseStore(db.jdbi());
        List<Long> slow = submit(type, "ring-slow", 30);
        pauses.pause(PauseStore.Kind.QUEUE, "ring-slow", "test", "test");
        List<Long> fast = submit(type, "ring-fast", 5);
        assertThat(ring.parkPaused().parked()).as("a new pause: the whole ring").isEqualTo(30);
        assertThat(query("SELECT count(*) FROM job_ready WHERE queue = 'ring-slow'")).isZero();
        assertThat(store.claim(claim(type, 10))).as("claims walk past nothing of the paused queue")
                .extracting(JobRecord::id).containsExactlyInAnyOrderElementsOf(fast);

        List<Long> later = submit(type, "ring-slow", 3);
        assertThat(ring.parkPaused().parked()).as("the entries written since").isEqualTo(3);
        assertThat(store.claim(claim(type, 10))).isEmpty();
        assertThat(store.cancel(slow.get(0), null, "not wanted").applied()).isTrue();

        // the pause ends without its entries moved back (a resume whose broker died before it moved them)
        db.jdbi().useHandle(handle -> handle.execute("DELETE FROM pauses WHERE name = 'ring-slow'"));
        assertThat(ring.parkPaused().unparked()).as("the next pass moves them back, but the cancelled job's").isEqualTo(32);
        assertThat(query("SELECT count(*) FROM ready_parked")).isZero();
        List<Long> resumed = store.claim(claim(type, 100)).stream().map(JobRecord::id).toList();
        assertThat(resumed).hasSize(32).containsAll(later).doesNotContain(slow.get(0));

        // a paused type, ended by a resume: its entries are back at once
        List<Long> typed = submit("ring.paused-type", "ring-any", 4);
        pauses.pause(PauseStore.Kind.TYPE, "ring.paused-type", "test", "test");
        assertThat(ring.parkPaused().parked()).isEqualTo(4);
        assertThat(store.claim(claim("ring.paused-type", 10))).isEmpty();
        assertThat(pauses.resume(PauseStore.Kind.TYPE, "ring.paused-type")).isPresent();
        assertThat(query("SELECT count(*) FROM ready_parked")).isZero();
        assertThat(store.claim(claim("ring.paused-type", 10))).extracting(JobRecord::id).containsExactlyInAnyOrderElementsOf(typed);
    }

    @Test
    void anEntryWrittenWhereTheLastSecondsPassesDoNotLookIsParkedByTheMinutesLookAtTheWholeRing() {
        PauseStore pauses = new PauseStore(db.jdbi());
        pauses.pause(PauseStore.Kind.QUEUE, "ring-missed", "test", "test");
        Ring ring = new Ring(db.jdbi(), clock); // its own memory of pauses and looks
        ring.parkPaused();
        long job = submit("ring.missed", "ring-missed", 1).get(0);
        // as if written to a segment holding a backlog while the passes fell behind: out of the recent segments
        db.jdbi().useHandle(handle -> handle.execute("UPDATE job_ready SET seg = (jobwire_segment() + 8) % 16 WHERE job_id = " + job));
        assertThat(ring.parkPaused().parked()).as("the recent segments only").isZero();
        clock.advance(Ring.WHOLE_RING_PARKING);
        assertThat(ring.parkPaused().parked()).as("a minute on: the whole ring").isEqualTo(1);
        assertThat(pauses.resume(PauseStore.Kind.QUEUE, "ring-missed")).isPresent();
        assertThat(store.claim(claim("ring.missed", 10))).extracting(JobRecord::id).containsExactly(job);
    }

    @Test
    void underAPinnedHorizonSegmentsBehindAreEmptiedAndEveryJobRunsOnce() throws Exception {
        String type = "ring.pinned";
        try (Connection pin = pinHorizon()) {
            Set<Long> submitted = new HashSet<>();
            Set<Long> ran = new HashSet<>();
            Set<Integer> passedThrough = new TreeSet<>();
            Set<Integer> emptiedReady = new TreeSet<>();
            Set<Integer> emptiedLeases = new TreeSet<>();
            long deadline = System.nanoTime() + Slowness.scaled(Duration.ofSeconds(60)).toNanos();
            // Until three ready and three lease segments this test wrote to are emptied while the pin is open.
            while (emptiedReady.stream().filter(passedThrough::contains).count() < 3
                    || emptiedLeases.stream().filter(passedThrough::contains).count() < 3) {
                assertThat(System.nanoTime()).as("ready segments %s and lease segments %s emptied by now, of %s",
                        emptiedReady, emptiedLeases, passedThrough).isLessThan(deadline);
                passedThrough.add(segmentNow());
                List<NewJob> batch = new ArrayList<>();
                for (int i = 0; i < 200; i++) {
                    batch.add(job(type, 0, 0));
                }
                store.insert(batch).forEach(outcome -> submitted.add(outcome.job().id()));
                List<JobRecord> claimed = store.claim(claim(type, 500));
                List<Completion> done = new ArrayList<>();
                for (JobRecord job : claimed) {
                    assertThat(ran.add(job.id())).as("job %d claimed once", job.id()).isTrue();
                    done.add(new Completion(new LeaseRef(job.id(), job.attempt(), job.leaseToken()), "null"));
                }
                assertThat(store.complete(null, done)).allMatch(result -> result.outcome() == WriteOutcome.ACCEPTED);
                reap();
                for (String table : ring.clear()) {
                    assertThat(query("SELECT pg_relation_size('" + table + "')")).as("%s emptied, the pin still open", table)
                            .isZero();
                    int seg = Integer.parseInt(table.substring(table.lastIndexOf('_') + 1));
                    (table.startsWith("job_ready_") ? emptiedReady : emptiedLeases).add(seg);
                }
            }
            pin.rollback();
            assertThat(ran).isEqualTo(submitted);
            assertThat(query("SELECT count(*) FROM jobs WHERE type = '" + type + "' AND state = 'SUCCEEDED' AND attempt = 1"))
                    .isEqualTo(submitted.size());
            assertThat(query("SELECT count(*) FROM live_jobs WHERE type = '" + type + "'")).isZero();
        }
    }

    @Test
    void aSegmentHoldingABacklogIsLeftToClaims() {
        // Two segments behind the one of now: one with a backlog, one with a few entries.
        int backlog = (segmentNow() + 13) % 16;
        int few = (segmentNow() + 12) % 16;
        long rows = Ring.BACKLOG_ROWS + 1_000;
        db.jdbi().useHandle(handle -> {
            handle.execute("INSERT INTO job_ready (seg, job_id, type, queue, priority, run_at) SELECT " + backlog
                    + ", -g, 'ring.backlog', 'default', 0, now() FROM generate_series(1, " + rows + ") g");
            handle.execute("INSERT INTO job_ready (seg, job_id, type, queue, priority, run_at) SELECT " + few
                    + ", -g, 'ring.backlog', 'default', 0, now() FROM generate_series(1, 10) g");
        });
        try {
            List<String> looked = ring.segmentsToLookAt().stream().map(Ring.Segment::table).toList();
            assertThat(looked).as("the few entries are looked at").contains("job_ready_" + few);
            assertThat(looked).as("the backlog is left to claims").doesNotContain("job_ready_" + backlog);
            for (int pass = 0; pass < 3; pass++) {
                assertThat(ring.clear()).doesNotContain("job_ready_" + backlog);
            }
            assertThat(query("SELECT count(*) FROM job_ready_" + backlog)).isEqualTo(rows);
        } finally {
            db.jdbi().useHandle(handle -> handle.execute("TRUNCATE job_ready_" + backlog + ", job_ready_" + few));
        }
    }

    /**
     * The statistics' live rows of a table are inserted less deleted as each backend sends its counts,
     * clamped at zero: when a claim's deletes reach them before the submit's inserts they undo, the figure
     * stays high for good (until a vacuum or an analyze counts again). A segment they overcount is emptied
     * all the same: what it holds is counted.
     */
    @Test
    void aSegmentTheStatisticsOvercountIsEmptiedAllTheSame() throws Exception {
        Ring ring = new Ring(db.jdbi(), clock);
        int seg = (segmentNow() + 12) % 16;
        String table = "job_ready_" + seg;
        long rows = Ring.BACKLOG_ROWS + 1_000;
        long lock = 0x6a6f62L;
        // No autovacuum to count the segment meanwhile: it is pinned, but a vacuum would set the figure right.
        db.jdbi().useHandle(handle -> handle.execute("ALTER TABLE " + table + " SET (autovacuum_enabled = false)"));
        try (Connection pin = pinHorizon(); Connection holding = DriverManager.getConnection(url);
             Connection inserting = DriverManager.getConnection(url); Statement hold = holding.createStatement()) {
            hold.execute("SELECT pg_advisory_lock(" + lock + ")");
            // The submit: its entries are committed, and its counts stay unsent while its statement runs on.
            CompletableFuture<Void> submit = CompletableFuture.runAsync(() -> {
                try (Statement insert = inserting.createStatement()) {
                    insert.execute("DO $$ BEGIN INSERT INTO job_ready (seg, job_id, type, queue, priority, run_at) SELECT " + seg
                            + ", -g, 'ring.overcount', 'default', 0, now() FROM generate_series(1, " + rows + ") g; COMMIT; "
                            + "PERFORM pg_advisory_lock(" + lock + "); PERFORM pg_advisory_unlock(" + lock + "); END $$");
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            long deadline = System.nanoTime() + Slowness.scaled(Duration.ofSeconds(30)).toNanos();
            while (query("SELECT count(*) FROM " + table) < rows) {
                assertThat(System.nanoTime()).as("the submit's entries committed").isLessThan(deadline);
                Thread.sleep(10);
            }
            // The claims: their deletes reach the statistics first (clamped at zero), then the submit's inserts.
            long deletedBefore = query("SELECT pg_stat_get_tuples_deleted('" + table + "'::regclass)");
            db.jdbi().useHandle(handle -> {
                handle.execute("DELETE FROM " + table);
                handle.execute("SELECT pg_stat_force_next_flush()");
            });
            while (query("SELECT pg_stat_get_tuples_deleted('" + table + "'::regclass)") < deletedBefore + rows) {
                assertThat(System.nanoTime()).as("the deletes counted").isLessThan(deadline);
                Thread.sleep(10);
            }
            hold.execute("SELECT pg_advisory_unlock(" + lock + ")");
            submit.get(Slowness.scaled(Duration.ofSeconds(30)).toSeconds(), TimeUnit.SECONDS);
            try (Statement send = inserting.createStatement()) {
                send.execute("SELECT pg_stat_force_next_flush()");
            }
            while (query("SELECT pg_stat_get_live_tuples('" + table + "'::regclass)") < rows) {
                assertThat(System.nanoTime()).as("the statistics say the empty segment holds a backlog").isLessThan(deadline);
                Thread.sleep(10);
            }
            assertThat(query("SELECT count(*) FROM " + table)).isZero();

            boolean emptied = false;
            for (int pass = 0; pass < 3 && !emptied; pass++) {
                emptied = ring.clear().contains(table);
            }
            assertThat(emptied).as("%s emptied within three passes, the pin still open", table).isTrue();
            assertThat(query("SELECT pg_relation_size('" + table + "')")).isZero();
        } finally {
            db.jdbi().useHandle(handle -> handle.execute("ALTER TABLE " + table + " RESET (autovacuum_enabled)"));
        }
    }

    /**
     * A reaper that fell behind takes the due lease entries of the oldest segment first, then the next, one
     * segment a batch (its delete then looks in that partition only): it leaves whole segments empty for
     * the ring to truncate, not a few entries in every one of them.
     */
    @Test
    void aReaperBehindTakesTheOldestSegmentsFirst() throws InterruptedException {
        long deadline = System.nanoTime() + Slowness.scaled(Duration.ofSeconds(30)).toNanos();
        while (true) {
            assertThat(System.nanoTime()).as("a try within one second of the segment clock").isLessThan(deadline);
            int now = segmentNow();
            if (now == 15) { // the oldest segments would be 0, 1 and 2: in the partitions' own order
                Thread.sleep(50);
                continue;
            }
            // 100 due entries, of jobs long finished, in every segment but that of now
            db.jdbi().useHandle(handle -> handle.execute("INSERT INTO job_leases (seg, job_id, attempt, check_at) "
                    + "SELECT s, -g, 1, now() - interval '1 second' FROM generate_series(0, 15) s, generate_series(1, 100) g "
                    + "WHERE s <> " + now));
            try {
                for (int batch = 0; batch < 3; batch++) {
                    JobStore.Reaped reaped = store.reapExpired(300, () -> { });
                    assertThat(reaped.entries()).as("a batch takes one segment's entries").isEqualTo(100);
                    assertThat(reaped.more()).as("and says more are due").isTrue();
                }
                Map<Integer, Long> left = new java.util.TreeMap<>();
                db.jdbi().useHandle(handle -> handle.createQuery("SELECT seg, count(*) AS n FROM job_leases WHERE job_id < 0 GROUP BY seg")
                        .map((rs, ctx) -> left.put(rs.getInt("seg"), rs.getLong("n"))).list());
                if (segmentNow() != now) {
                    continue; // the clock turned meanwhile: which segments are oldest changed
                }
                Map<Integer, Long> expected = new java.util.TreeMap<>();
                for (int age = 12; age >= 1; age--) {
                    expected.put((now - age + 16) % 16, 100L);
                }
                assertThat(left).as("segments %d, %d and %d (15, 14 and 13 seconds behind %d) emptied, the others whole",
                        (now + 1) % 16, (now + 2) % 16, (now + 3) % 16, now).isEqualTo(expected);
                return;
            } finally {
                db.jdbi().useHandle(handle -> handle.execute("DELETE FROM job_leases WHERE job_id < 0"));
            }
        }
    }

    /**
     * A segment claims are draining keeps its entries: moving them would lock the queue's head while claims
     * take the jobs behind it. A segment drained slowly, or not at all, has them moved on.
     */
    @Test
    void aSegmentClaimsAreDrainingIsLeftToThem() {
        Ring ring = new Ring(db.jdbi(), clock); // its own looks: none of another test's segments
        String table = "job_ready_" + (segmentNow() + 10) % 16;
        db.jdbi().useHandle(handle -> handle.execute("INSERT INTO " + table + " (seg, job_id, type, queue, priority, run_at) SELECT "
                + table.substring("job_ready_".length()) + ", -g, 'ring.draining', 'default', 0, now() FROM generate_series(1, 3000) g"));
        try {
            assertThat(ring.clear()).as("first look: how fast claims take its entries is not known").doesNotContain(table);
            assertThat(query("SELECT count(*) FROM " + table)).isEqualTo(3000);

            // claims took 1,000 in a second: the other 2,000 would be gone in two more
            db.jdbi().useHandle(handle -> handle.execute("DELETE FROM " + table + " WHERE job_id >= -1000"));
            clock.advance(Duration.ofSeconds(1));
            assertThat(ring.clear()).as("left to the claims draining it").doesNotContain(table);
            assertThat(query("SELECT count(*) FROM " + table)).isEqualTo(2000);

            // then 100 in ten seconds: at that pace the rest would take minutes
            db.jdbi().useHandle(handle -> handle.execute("DELETE FROM " + table + " WHERE job_id >= -1100"));
            clock.advance(Duration.ofSeconds(10));
            assertThat(ring.clear()).as("a slow drain: its entries moved on (those of no queued job dropped)").contains(table);
            assertThat(query("SELECT count(*) FROM " + table)).isZero();
        } finally {
            db.jdbi().useHandle(handle -> handle.execute("TRUNCATE " + table));
        }
    }

    /**
     * Moving an old segment's entries copies them first and deletes the originals in a transaction of its
     * own: while the delete holds the originals, a claim takes the copies, in the queue's order (locked
     * originals would be skipped, and the claim would take the jobs behind them).
     */
    @Test
    void whileAnOldSegmentsEntriesAreDeletedClaimsTakeTheirCopiesInOrder() {
        String type = "ring.moved";
        List<Long> jobs = new ArrayList<>();
        for (int priority = 5; priority >= 1; priority--) {
            jobs.add(store.insert(List.of(job(type, priority, 0))).get(0).job().id());
        }
        int old = (segmentNow() + 10) % 16;
        String table = "job_ready_" + old;
        db.jdbi().useHandle(handle -> handle.execute("UPDATE job_ready SET seg = " + old + " WHERE type = '" + type + "'"));
        Long[] read = db.jdbi().inTransaction(handle -> handle.createQuery(
                        Sql.load(Ring.class, "ring_compact").replace("{segment}", table))
                .map((rs, ctx) -> (Long[]) rs.getArray("jobs").getArray())
                .one());
        assertThat(read).containsExactlyInAnyOrderElementsOf(jobs);
        try (org.jdbi.v3.core.Handle deleting = db.jdbi().open()) {
            deleting.begin();
            assertThat(deleting.createUpdate(Sql.load(Ring.class, "ring_compact_delete").replace("{segment}", table))
                    .bind("jobs", read)
                    .execute()).isEqualTo(5);
            assertThat(store.claim(claim(type, 2))).as("the copies, in order, while the originals are held")
                    .extracting(JobRecord::id).containsExactly(jobs.get(0), jobs.get(1));
            deleting.commit();
        }
        assertThat(query("SELECT count(*) FROM " + table)).isZero();
        assertThat(store.claim(claim(type, 10))).extracting(JobRecord::id).containsExactly(jobs.get(2), jobs.get(3), jobs.get(4));
        assertThat(store.claim(claim(type, 10))).isEmpty();
    }

    /**
     * TRUNCATE's lock queues every claim behind it while it waits, so it waits briefly at first, and longer
     * each pass that finds the segment held, so that a segment busy claims never leave is emptied all the same.
     */
    @Test
    void aTruncateFindingItsSegmentHeldWaitsLongerEachPass() {
        Ring ring = new Ring(db.jdbi(), clock); // its own lock waits
        int seg = (segmentNow() + 10) % 16;
        String table = "job_ready_" + seg;
        db.jdbi().useHandle(handle -> handle.execute("INSERT INTO " + table + " (seg, job_id, type, queue, priority, run_at) VALUES ("
                + seg + ", -1, 'ring.held', 'default', 0, now()); DELETE FROM " + table));
        try (org.jdbi.v3.core.Handle claiming = db.jdbi().open()) {
            claiming.begin();
            claiming.execute("LOCK TABLE " + table + " IN ROW SHARE MODE");
            for (int expected : new int[] {20, 40, 80, 100, 100}) {
                assertThat(ring.clear()).as("held by the claim").doesNotContain(table);
                assertThat(ring.lockWait(table)).isEqualTo(expected);
            }
            claiming.rollback();
        }
        assertThat(ring.clear()).contains(table);
        assertThat(ring.lockWait(table)).isEqualTo(Ring.FIRST_LOCK_WAIT_MS);
    }

    /**
     * An entry left behind (the ring's move copied it while a claim took the job, which was then queued
     * again for later) says the job is due; the job's row says when it is, and the claim goes by the row.
     */
    @Test
    void anEntryLeftBehindDoesNotStartAJobQueuedForLater() {
        String type = "ring.behind";
        long id = store.insert(List.of(job(type, 0, 3_600_000))).get(0).job().id();
        db.jdbi().useHandle(handle -> handle.execute("INSERT INTO job_ready (seg, job_id, type, queue, priority, run_at) "
                + "VALUES (jobwire_segment(), " + id + ", '" + type + "', 'default', 0, now() - interval '1 minute')"));
        assertThat(store.claim(claim(type, 10))).as("due in an hour").isEmpty();
        db.jdbi().useHandle(h -> h.execute("UPDATE live_jobs SET run_at = now() WHERE id = " + id));
        assertThat(store.claim(claim(type, 10))).as("due now, through the entry left behind").extracting(JobRecord::id)
                .containsExactly(id);
    }

    @Test
    void entriesOfJobsHeldOrCancelledTakeNoPlaceAndARetriedJobRunsOnce() {
        String type = "ring.stale";
        long first = store.insert(List.of(job(type, 10, 0))).get(0).job().id();
        long second = store.insert(List.of(job(type, 0, 0))).get(0).job().id();
        long third = store.insert(List.of(job(type, 5, 0))).get(0).job().id();
        assertThat(store.hold(first, null).applied()).isTrue();
        assertThat(store.cancel(third, null, "not now").applied()).isTrue();

        assertThat(store.claim(claim(type, 1))).extracting(JobRecord::id).containsExactly(second);

        assertThat(store.unhold(first, null).applied()).isTrue();
        assertThat(store.retry(third, null).applied()).isTrue();
        assertThat(store.claim(claim(type, 10))).extracting(JobRecord::id).containsExactly(first, third);
        assertThat(store.claim(claim(type, 10))).isEmpty();
    }

    @Test
    void aJobDueLaterOutlivesTheSegmentItWasQueuedIn() throws InterruptedException {
        String type = "ring.later";
        long id = store.insert(List.of(job(type, 0, 3_600_000))).get(0).job().id();
        int queuedIn = (int) query("SELECT seg FROM job_ready WHERE job_id = " + id);
        long deadline = System.nanoTime() + Slowness.scaled(Duration.ofSeconds(30)).toNanos();
        // Two seconds on, the segment is behind; the pass moves the entry on and empties the segment.
        while (!ring.clear().contains("job_ready_" + queuedIn)) {
            assertThat(System.nanoTime()).as("segment %d emptied", queuedIn).isLessThan(deadline);
            Thread.sleep(200);
        }
        assertThat(query("SELECT count(*) FROM job_ready WHERE job_id = " + id)).isEqualTo(1);
        assertThat(query("SELECT seg FROM job_ready WHERE job_id = " + id)).isNotEqualTo(queuedIn);
        assertThat(store.claim(claim(type, 10))).as("not due yet").isEmpty();
        db.jdbi().useHandle(h -> h.execute("UPDATE live_jobs SET run_at = now() WHERE id = " + id
                + "; UPDATE job_ready SET run_at = now() WHERE job_id = " + id));
        assertThat(store.claim(claim(type, 10))).extracting(JobRecord::id).containsExactly(id);
    }

    /**
     * A fair type's job scheduled for later sorts after every due entry while it waits (its ring entry's turn
     * is jobwire_fair_later()); once due, the pass that moves it gives it back its turn, ahead of a backlog
     * queued after it.
     */
    @Test
    void aFairJobForLaterGetsItsTurnBackWhenItsEntryMovesDue() throws InterruptedException {
        String type = "ring.fair";
        long later = store.insert(List.of(fairJob(type, "small", 3_600_000))).get(0).job().id();
        List<Long> backlog = store.insert(List.of(fairJob(type, "big", 0), fairJob(type, "big", 0), fairJob(type, "big", 0)))
                .stream().map(outcome -> outcome.job().id()).toList();
        long far = query("SELECT jobwire_fair_later()");
        assertThat(query("SELECT fair_seq FROM job_ready WHERE job_id = " + later)).isEqualTo(far);
        assertThat(query("SELECT fair_seq FROM live_jobs WHERE id = " + later))
                .as("its turn, taken when submitted: before the backlog's second job")
                .isLessThan(query("SELECT fair_seq FROM live_jobs WHERE id = " + backlog.get(1)));
        db.jdbi().useHandle(h -> h.execute("UPDATE live_jobs SET run_at = now() WHERE id = " + later
                + "; UPDATE job_ready SET run_at = now() WHERE job_id = " + later));
        assertThat(store.claim(claim(type, 1))).as("due, but still sorted after the due entries")
                .extracting(JobRecord::id).containsExactly(backlog.get(0));
        int queuedIn = (int) query("SELECT seg FROM job_ready WHERE job_id = " + later);
        long deadline = System.nanoTime() + Slowness.scaled(Duration.ofSeconds(30)).toNanos();
        while (!ring.clear().contains("job_ready_" + queuedIn)) {
            assertThat(System.nanoTime()).as("segment %d emptied", queuedIn).isLessThan(deadline);
            Thread.sleep(200);
        }
        assertThat(query("SELECT fair_seq FROM job_ready WHERE job_id = " + later)).isLessThan(far);
        assertThat(store.claim(claim(type, 1))).extracting(JobRecord::id).containsExactly(later);
        assertThat(store.claim(claim(type, 2))).extracting(JobRecord::id).containsExactly(backlog.get(1), backlog.get(2));
    }

    private static NewJob fairJob(String type, String owner, long delayMs) {
        return new NewJob(type, "default", "{}", 0, null, delayMs, null, 5, 30_000, Map.of(), null, null, owner, null, null,
                false, null, null, null, null, null, null, null, null, null, 1_000_000L);
    }

    /**
     * Under a pinned horizon no old version can be pruned, so a claim's new version of its job's row is
     * HOT (no new entry in live_jobs_pkey, which claims, finishes and Gets read) only if the row's own
     * page kept room for it: the table's fillfactor (V22). Every claimed job's row stays on its page.
     */
    @Test
    void underAPinnedHorizonAClaimUpdatesItsJobsRowOnItsOwnPage() throws Exception {
        String type = "ring.inplace";
        String payload = "{\"text\":\"" + "x".repeat(200) + "\"}";
        try (Connection pin = pinHorizon()) {
            List<NewJob> batch = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                batch.add(new NewJob(type, "default", payload, 0, null, 0, null, 5, 30_000, Map.of(), null, null, "test"));
            }
            List<Long> ids = store.insert(batch).stream().map(outcome -> outcome.job().id()).toList();
            Map<Long, Long> pagesBefore = pages(ids);
            assertThat(new HashSet<>(pagesBefore.values())).as("the jobs fill several pages").hasSizeGreaterThan(5);
            assertThat(store.claim(claim(type, 300))).hasSize(300);
            Map<Long, Long> pagesAfter = pages(ids);
            List<Long> moved = ids.stream().filter(id -> !pagesAfter.get(id).equals(pagesBefore.get(id))).toList();
            assertThat(moved).as("jobs whose claimed version left their page (a new index entry each)").isEmpty();
            pin.rollback();
        }
    }

    /** The heap page of each job's current row version. */
    private static Map<Long, Long> pages(List<Long> ids) {
        return db.jdbi().withHandle(h -> h.createQuery(
                        "SELECT id, (ctid::text::point)[0]::bigint AS page FROM live_jobs WHERE id = ANY (:ids)")
                .bind("ids", ids.toArray(new Long[0]))
                .reduceRows(new java.util.HashMap<Long, Long>(), (map, row) -> {
                    map.put(row.getColumn("id", Long.class), row.getColumn("page", Long.class));
                    return map;
                }));
    }
}
