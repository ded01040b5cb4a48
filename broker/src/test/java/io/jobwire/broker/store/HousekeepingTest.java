package io.jobwire.broker.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.broker.db.Database;
import io.jobwire.broker.testing.CountsCheck;
import io.jobwire.broker.testing.TestPostgres;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Retention pruning and statistics refresh on a real PostgreSQL, with a fixed clock. */
class HousekeepingTest {
    private static final Instant NOW = Instant.parse("2026-11-23T12:00:00Z");

    private Database db;

    @BeforeEach
    void open() {
        db = Database.connect(TestPostgres.newDatabase(), 4, Duration.ofSeconds(5), "test");
        db.migrate();
    }

    @AfterEach
    void close() {
        db.close();
    }

    private Housekeeping housekeeping(Duration retention) {
        return new Housekeeping(db.jdbi(), retention, Clock.fixed(NOW, ZoneOffset.UTC));
    }

    /**
     * Inserts {@code n} jobs in a state, each with one attempt row: live ones into live_jobs, finished ones
     * into job_history, finished {@code age} before NOW, each with an idempotency key.
     */
    private void jobs(int n, String type, String state, Duration age) {
        boolean finished = java.util.Set.of("SUCCEEDED", "FAILED", "CANCELLED").contains(state);
        db.jdbi().useHandle(h -> h.createUpdate(finished ? """
                WITH made AS (
                    INSERT INTO job_history (id, type, queue, state, priority, run_at, payload, labels, owner,
                                             idempotency_key, max_attempts, attempt, spent_attempts, releases, errors,
                                             lease_duration_ms, created_at, updated_at, finished_at, version)
                    SELECT nextval('jobs_id_seq'), :type, 'default', CAST(:state AS text), 0, now(), '{}', '{}', 'tester',
                           NULL, 5, 1, 1, 0, 0, 30000, now(), now(), CAST(:finishedAt AS timestamptz), 1
                    FROM generate_series(1, :n)
                    RETURNING id
                ), keys AS (
                    INSERT INTO job_keys (owner, idempotency_key, job_id) SELECT 'tester', 'key-' || id, id FROM made
                )
                INSERT INTO job_attempts (job_id, attempt, worker_id) SELECT id, 1, 'w' FROM made
                """ : """
                WITH made AS (
                    INSERT INTO live_jobs (type, owner, state, attempt)
                    SELECT :type, 'tester', CAST(:state AS text), 1
                    FROM generate_series(1, :n)
                    RETURNING id
                )
                INSERT INTO job_attempts (job_id, attempt, worker_id) SELECT id, 1, 'w' FROM made
                """).bind("type", type).bind("state", state).bind("n", n)
                .bind("finishedAt", java.time.OffsetDateTime.ofInstant(NOW.minus(age), ZoneOffset.UTC)).execute());
    }

    private long count(String sql) {
        return db.jdbi().withHandle(h -> h.createQuery(sql).mapTo(Long.class).one());
    }

    @Test
    void finishedJobsPastRetentionGoInBatchesWithTheirHistoryAndNothingElseDoes() {
        jobs(2_500, "old.done", "SUCCEEDED", Duration.ofDays(8));
        jobs(10, "old.failed", "FAILED", Duration.ofDays(30));
        jobs(10, "old.cancelled", "CANCELLED", Duration.ofDays(7).plusSeconds(1));
        jobs(10, "recent.done", "SUCCEEDED", Duration.ofDays(6));
        jobs(10, "queued", "QUEUED", Duration.ofDays(30));
        jobs(10, "running", "RUNNING", Duration.ofDays(30));
        jobs(10, "held", "HELD", Duration.ofDays(30));

        long pruned = housekeeping(Duration.ofDays(7)).prune();

        assertThat(pruned).as("more than one batch of %d", Housekeeping.PRUNE_BATCH).isEqualTo(2_520);
        assertThat(count("SELECT count(*) FROM jobs WHERE type LIKE 'old.%'")).isZero();
        assertThat(count("SELECT count(*) FROM jobs")).isEqualTo(40);
        assertThat(count("SELECT count(*) FROM job_attempts")).as("history goes with its job").isEqualTo(40);
        assertThat(count("SELECT count(*) FROM job_attempts a WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = a.job_id)"))
                .isZero();
        assertThat(count("SELECT count(*) FROM job_keys")).as("keys go with their job").isEqualTo(10);
        assertThat(housekeeping(Duration.ofDays(7)).prune()).as("nothing left to prune").isZero();
        CountsCheck.assertCountsMatchJobs(db.jdbi());
    }

    /**
     * The prune finds old history in the partition migration V8 made through its BRIN index on finished_at.
     * A page range the index has no summary of yet is read whole by every scan; the pass summarizes new
     * ranges first, so its scan reads no page of the recent history.
     */
    @Test
    void retentionReadsNoPageOfRecentHistory() {
        jobs(20_000, "recent.done", "SUCCEEDED", Duration.ofDays(2));
        assertThat(count("SELECT count(*) FROM job_history_before")).as("in the partition migration V8 made").isEqualTo(20_000);

        assertThat(housekeeping(Duration.ofDays(7)).prune()).isZero();

        List<String> plan = db.jdbi().inTransaction(h -> {
            h.execute("SET LOCAL enable_seqscan = off");
            return h.createQuery("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM job_history_before WHERE finished_at < :cutoff")
                    .bind("cutoff", java.time.OffsetDateTime.ofInstant(NOW.minus(Duration.ofDays(7)), ZoneOffset.UTC))
                    .mapTo(String.class).list();
        });
        assertThat(String.join("\n", plan)).as("through the BRIN index, no heap page read").contains("Bitmap Index Scan")
                .doesNotContain("Heap Blocks");
    }

    @Test
    void zeroRetentionKeepsEverything() {
        jobs(10, "ancient", "SUCCEEDED", Duration.ofDays(3650));
        assertThat(housekeeping(Duration.ZERO).prune()).isZero();
        assertThat(count("SELECT count(*) FROM jobs")).isEqualTo(10);
    }

    @Test
    void statisticsAreRefreshedWhenTheTableOutgrewThem() throws InterruptedException {
        // autovacuum (set to analyze after 2% of changes) could analyze first and leave nothing to find
        db.jdbi().useHandle(h -> h.execute("ALTER TABLE live_jobs SET (autovacuum_enabled = false); ANALYZE live_jobs"));
        jobs(20_000, "burst", "QUEUED", Duration.ZERO);
        Housekeeping housekeeping = housekeeping(Duration.ofDays(7));
        // the statistics collector reports changes asynchronously; give it a moment
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        java.util.List<String> analyzed = housekeeping.refreshStatistics();
        while (!analyzed.contains("live_jobs") && System.nanoTime() < deadline) {
            Thread.sleep(200);
            analyzed = housekeeping.refreshStatistics();
        }
        assertThat(analyzed).contains("live_jobs");
        assertThat(count("SELECT reltuples::bigint FROM pg_class WHERE relname = 'live_jobs'")).isEqualTo(20_000);
        assertThat(housekeeping.refreshStatistics()).as("fresh now").doesNotContain("live_jobs");
        db.jdbi().useHandle(h -> h.execute("ALTER TABLE live_jobs RESET (autovacuum_enabled)"));
    }

    private void awaitChangesCounted(long changes) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (count("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'live_jobs'") < changes
                && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
    }

    @Test
    void aTableAnalyzedRecentlyIsNotAnalyzedAgainForChangesSmallerThanItself() throws InterruptedException {
        db.jdbi().useHandle(h -> h.execute("ALTER TABLE live_jobs SET (autovacuum_enabled = false)"));
        jobs(20_000, "steady", "QUEUED", Duration.ZERO);
        awaitChangesCounted(20_000); // the inserting session reports its counts a moment after its commit
        db.jdbi().useHandle(h -> h.execute("ANALYZE live_jobs"));
        jobs(12_000, "steady", "QUEUED", Duration.ZERO); // 37% of the table, but fewer rows than it had
        awaitChangesCounted(12_000);
        assertThat(housekeeping(Duration.ofDays(7)).refreshStatistics())
                .as("analyzed under a minute ago, and it has not outgrown that").doesNotContain("live_jobs");
        Housekeeping noInterval = new Housekeeping(db.jdbi(), Duration.ofDays(7), Clock.fixed(NOW, ZoneOffset.UTC),
                Duration.ZERO);
        assertThat(noInterval.refreshStatistics()).as("once the interval has passed").contains("live_jobs");
        assertThat(count("SELECT reltuples::bigint FROM pg_class WHERE relname = 'live_jobs'")).isEqualTo(32_000);
        db.jdbi().useHandle(h -> h.execute("ALTER TABLE live_jobs RESET (autovacuum_enabled)"));
    }
}
