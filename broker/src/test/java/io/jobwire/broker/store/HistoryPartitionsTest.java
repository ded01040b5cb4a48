package io.jobwire.broker.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.broker.db.Database;
import io.jobwire.broker.testing.CountsCheck;
import io.jobwire.broker.testing.TestPostgres;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * History partitioned by finish time on a real PostgreSQL: partitions made ahead of the clock, finished
 * jobs in the partition of their finish time, and retention by dropping a partition whole, taking the
 * attempt records, idempotency keys and counts of its jobs and nothing else.
 */
class HistoryPartitionsTest {
    private static final Duration DAY = Duration.ofDays(1);

    private Database db;
    private HistoryPartitions partitions;

    @BeforeEach
    void open() {
        db = Database.connect(TestPostgres.newDatabase(), 4, Duration.ofSeconds(5), "test");
        db.migrate();
        partitions = new HistoryPartitions(db.jdbi(), Duration.ofDays(7));
    }

    @AfterEach
    void close() {
        db.close();
    }

    /**
     * {@code n} finished jobs of a type, finished at {@code at}, each with a key and an attempt record, from a
     * session in a time zone half an hour off UTC (the counts must still fall in the partitions' UTC hours).
     */
    private void finished(int n, String type, Instant at) {
        db.jdbi().useTransaction(h -> {
            h.execute("SET LOCAL TIME ZONE 'Asia/Kolkata'");
            h.createUpdate("""
                WITH made AS (
                    INSERT INTO job_history (id, type, queue, state, priority, run_at, payload, labels, owner,
                                             idempotency_key, max_attempts, attempt, spent_attempts, releases, errors,
                                             lease_duration_ms, created_at, updated_at, finished_at, version)
                    SELECT nextval('jobs_id_seq'), :type, 'default', 'FAILED', 0, now(), '{}', '{}', 'tester',
                           NULL, 5, 2, 2, 0, 2, 30000, now(), now(), :at, 1
                    FROM generate_series(1, :n)
                    RETURNING id
                ), keys AS (
                    INSERT INTO job_keys (owner, idempotency_key, job_id) SELECT 'tester', 'key-' || id, id FROM made
                )
                INSERT INTO job_attempts (job_id, attempt, worker_id, outcome) SELECT id, 1, 'w', 'failed' FROM made
                """).bind("type", type).bind("n", n).bind("at", OffsetDateTime.ofInstant(at, ZoneOffset.UTC)).execute();
        });
    }

    private long count(String sql) {
        return db.jdbi().withHandle(h -> h.createQuery(sql).mapTo(Long.class).one());
    }

    private String partitionOf(String type) {
        return db.jdbi().withHandle(h -> h.createQuery(
                        "SELECT DISTINCT tableoid::regclass::text FROM job_history WHERE type = :type")
                .bind("type", type).mapTo(String.class).one());
    }

    private Instant dbNow() {
        return db.jdbi().withHandle(h -> h.createQuery("SELECT now()").mapTo(OffsetDateTime.class).one()).toInstant();
    }

    @Test
    void partitionsAreMadeAheadOfTheClockOneSpanEachAndFinishedJobsLandInTheirs() {
        assertThat(partitions.span()).isEqualTo(DAY);
        Instant now = dbNow();

        List<String> created = partitions.ensureAhead();

        assertThat(created).isNotEmpty();
        List<HistoryPartitions.Part> parts = partitions.parts();
        assertThat(parts.get(0).name()).isEqualTo("job_history_before");
        assertThat(parts.get(0).starts()).isEmpty();
        for (int i = 1; i < parts.size(); i++) {
            HistoryPartitions.Part part = parts.get(i);
            assertThat(part.starts()).as(part.name()).contains(parts.get(i - 1).ends());
            assertThat(part.ends().getEpochSecond() % DAY.toSeconds()).as("%s ends at midnight UTC", part.name()).isZero();
            assertThat(Duration.between(part.starts().get(), part.ends())).as(part.name())
                    .isGreaterThanOrEqualTo(DAY.dividedBy(2)).isLessThan(DAY.multipliedBy(2));
        }
        assertThat(parts.get(parts.size() - 1).ends()).isAfterOrEqualTo(now.plus(DAY.multipliedBy(HistoryPartitions.SPANS_AHEAD)));
        assertThat(partitions.ensureAhead()).as("nothing more to make").isEmpty();

        HistoryPartitions.Part second = parts.get(2);
        finished(3, "then", second.starts().get().plusSeconds(1));
        finished(2, "late", parts.get(parts.size() - 1).ends().plus(DAY)); // no partition yet: the default one
        assertThat(partitionOf("then")).isEqualTo(second.name());
        assertThat(partitionOf("late")).isEqualTo("job_history_default");

        // The next partition starts after what the default one caught, and those jobs stay where they are.
        List<String> later = partitions.ensureAhead(now.plus(DAY.multipliedBy(5)));
        assertThat(later).isNotEmpty();
        assertThat(partitionOf("late")).isEqualTo("job_history_default");
        assertThat(count("SELECT count(*) FROM jobs WHERE type = 'late'")).isEqualTo(2);
        CountsCheck.assertCountsMatchJobs(db.jdbi());
    }

    /**
     * On a database made just now the partition V8 made for older history ends at the start of this hour
     * (V23), so the first hour's finished jobs land in a dated partition, dropped whole by retention, not in
     * job_history_before, pruned row by row.
     */
    @Test
    void aNewDatabasesFirstHourOfHistoryHasAPartitionOfItsOwn() {
        String url = TestPostgres.newEmptyDatabase();
        Instant before;
        try (Database fresh = Database.connect(url, 4, Duration.ofSeconds(5), "test")) {
            before = fresh.jdbi().withHandle(h -> h.createQuery("SELECT now()").mapTo(OffsetDateTime.class).one()).toInstant();
            fresh.migrate();
            HistoryPartitions made = new HistoryPartitions(fresh.jdbi(), Duration.ofDays(7));
            HistoryPartitions.Part old = made.parts().get(0);
            assertThat(old.name()).isEqualTo("job_history_before");
            assertThat(old.ends().getEpochSecond() % 3600).as("ends on the hour").isZero();
            assertThat(old.ends()).as("at the start of the hour the migration ran in")
                    .isAfter(before.minus(Duration.ofHours(1))).isBeforeOrEqualTo(before.plusSeconds(60));

            made.ensureAhead();
            assertThat(made.parts().get(1).starts()).contains(old.ends());
            fresh.jdbi().useHandle(h -> h.execute("""
                    INSERT INTO job_history (id, type, queue, state, priority, run_at, payload, labels, owner, max_attempts,
                                             attempt, spent_attempts, releases, errors, lease_duration_ms, created_at,
                                             updated_at, finished_at, version)
                    VALUES (nextval('jobs_id_seq'), 'first.hour', 'default', 'SUCCEEDED', 0, now(), '{}', '{}', 'tester',
                            1, 1, 1, 0, 0, 30000, now(), now(), now(), 1)"""));
            String partition = fresh.jdbi().withHandle(h -> h.createQuery(
                    "SELECT tableoid::regclass::text FROM job_history WHERE type = 'first.hour'").mapTo(String.class).one());
            assertThat(partition).startsWith("job_history_2");
        }
    }

    /**
     * The first pass of a new database's brokers may come in the hour after its migration (the migration at
     * 14:59, the pass at 15:00): the first dated partition still starts where job_history_before ends, so
     * the migration's hour does not fall to the default partition. After more than a span with no broker,
     * the next one starts at the hour of its clock instead of making a partition for every span missed.
     */
    @Test
    void theFirstPassInTheHourAfterTheMigrationLeavesNoGap() {
        HistoryPartitions.Part old = partitions.parts().get(0);
        Instant nextHour = old.ends().plus(Duration.ofMinutes(61));

        partitions.ensureAhead(nextHour);

        List<HistoryPartitions.Part> parts = partitions.parts();
        assertThat(parts.get(1).starts()).as("the first dated partition").contains(old.ends());
        for (int i = 1; i < parts.size(); i++) {
            assertThat(parts.get(i).starts()).as(parts.get(i).name()).contains(parts.get(i - 1).ends());
        }
        finished(1, "migration.hour", old.ends().plusSeconds(30));
        assertThat(partitionOf("migration.hour")).isEqualTo(parts.get(1).name());

        Instant weeksOn = parts.get(parts.size() - 1).ends().plus(Duration.ofDays(20)).plus(Duration.ofMinutes(30));
        List<String> after = partitions.ensureAhead(weeksOn);
        HistoryPartitions.Part resumed = partitions.parts().get(parts.size());
        assertThat(resumed.starts()).as("after 20 days with no broker").contains(weeksOn.minus(Duration.ofMinutes(30)));
        assertThat(after).hasSizeLessThanOrEqualTo(HistoryPartitions.SPANS_AHEAD + 1);
    }

    /**
     * Brokers started together on a new database all make the history's partitions before they serve: each
     * decides what to make under the turn, so none makes one another made while it waited (it used to
     * read the partitions before its turn, and one broker of three failed to start with "relation
     * job_history_... already exists").
     */
    @Test
    void brokersMakingPartitionsAtOnceMakeEachOnce() throws Exception {
        int brokers = 4;
        ExecutorService pool = Executors.newFixedThreadPool(brokers);
        try {
            for (int round = 0; round < 3; round++) {
                try (Database fresh = Database.connect(TestPostgres.newDatabase(), 2 * brokers, Duration.ofSeconds(5), "test")) {
                    fresh.migrate();
                    // as brokers do: tried again on the next pass when another had the turn; an exception is a
                    // broker that would not have started
                    List<String> names = atOnce(pool, brokers, fresh, each -> lastEnd(each).isBefore(Instant.now()
                            .plus(DAY.multipliedBy(HistoryPartitions.SPANS_AHEAD))), HistoryPartitions::ensureAhead);
                    List<HistoryPartitions.Part> parts = new HistoryPartitions(fresh.jdbi(), Duration.ofDays(7)).parts();
                    assertThat(names).as("each made once").doesNotHaveDuplicates()
                            .containsExactlyInAnyOrderElementsOf(parts.subList(1, parts.size()).stream()
                                    .map(HistoryPartitions.Part::name).toList());
                    for (int i = 1; i < parts.size(); i++) {
                        assertThat(parts.get(i).starts()).as(parts.get(i).name()).contains(parts.get(i - 1).ends());
                    }

                    // and retention, past the first two: each dropped by one of them, none failing on one gone
                    Instant cutoff = parts.get(1).ends();
                    List<String> dropped = atOnce(pool, brokers, fresh, each -> !each.parts().get(0).ends().isAfter(cutoff),
                            each -> each.dropBefore(cutoff));
                    assertThat(dropped).as("each dropped once").containsExactlyInAnyOrder(
                            parts.get(0).name(), parts.get(1).name());
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * {@code brokers} HistoryPartitions on one database, let go at the same moment, each doing {@code step}
     * while {@code more} says so (at most 50 passes); what they returned, together.
     */
    private static List<String> atOnce(ExecutorService pool, int brokers, Database db,
                                       java.util.function.Predicate<HistoryPartitions> more,
                                       java.util.function.Function<HistoryPartitions, List<String>> step) throws Exception {
        CyclicBarrier together = new CyclicBarrier(brokers);
        List<Future<List<String>>> each = new ArrayList<>();
        for (int i = 0; i < brokers; i++) {
            HistoryPartitions partitions = new HistoryPartitions(db.jdbi(), Duration.ofDays(7));
            each.add(pool.submit(() -> {
                together.await();
                List<String> all = new ArrayList<>();
                for (int pass = 0; pass < 50 && more.test(partitions); pass++) {
                    all.addAll(step.apply(partitions));
                }
                return all;
            }));
        }
        List<String> all = new ArrayList<>();
        for (Future<List<String>> future : each) {
            all.addAll(future.get());
        }
        return all;
    }

    private static Instant lastEnd(HistoryPartitions partitions) {
        List<HistoryPartitions.Part> parts = partitions.parts();
        return parts.get(parts.size() - 1).ends();
    }

    /** A database with history already (it has served) keeps the bound V8 gave its older history. */
    @Test
    void aDatabaseThatHasServedKeepsItsOlderHistorysBound() {
        String url = TestPostgres.newEmptyDatabase();
        try (Database served = Database.connect(url, 4, Duration.ofSeconds(5), "test")) {
            org.flywaydb.core.Flyway.configure().dataSource(url, null, null).locations("classpath:db/migration")
                    .target("22").load().migrate();
            served.jdbi().useHandle(h -> h.execute("""
                    INSERT INTO job_history (id, type, queue, state, priority, run_at, payload, labels, owner, max_attempts,
                                             attempt, spent_attempts, releases, errors, lease_duration_ms, created_at,
                                             updated_at, finished_at, version)
                    VALUES (nextval('jobs_id_seq'), 'served', 'default', 'SUCCEEDED', 0, now(), '{}', '{}', 'tester',
                            1, 1, 1, 0, 0, 30000, now(), now(), now() - interval '1 second', 1)"""));
            HistoryPartitions made = new HistoryPartitions(served.jdbi(), Duration.ofDays(7));
            Instant bound = made.parts().get(0).ends();

            served.migrate();

            assertThat(made.parts()).extracting(HistoryPartitions.Part::ends).containsExactly(bound);
            String partition = served.jdbi().withHandle(h -> h.createQuery(
                    "SELECT tableoid::regclass::text FROM job_history WHERE type = 'served'").mapTo(String.class).one());
            assertThat(partition).isEqualTo("job_history_before");
        }
    }

    @Test
    void aPartitionPastTheRetentionGoesWholeWithItsAttemptsKeysAndCountsAndNothingElseDoes() {
        partitions.ensureAhead();
        List<HistoryPartitions.Part> parts = partitions.parts();
        HistoryPartitions.Part first = parts.get(1);
        HistoryPartitions.Part second = parts.get(2);
        finished(2_000, "first.day", first.starts().get().plus(Duration.ofHours(3)));
        finished(5, "first.day.end", first.ends().minusMillis(1));
        finished(7, "second.day", second.starts().get());
        finished(4, "found.by.migration", Instant.parse("2020-01-01T00:00:00Z"));
        db.jdbi().useHandle(h -> h.execute("INSERT INTO live_jobs (type, owner) VALUES ('still.queued', 'tester')"));
        new Ring(db.jdbi(), java.time.Clock.systemUTC()).rollUpCounts();
        CountsCheck.assertCountsMatchJobs(db.jdbi());

        assertThat(partitions.dropBefore(first.ends().minusSeconds(1))).as("its last hour is not past yet")
                .containsExactly("job_history_before");
        assertThat(count("SELECT count(*) FROM jobs WHERE type = 'found.by.migration'")).isZero();

        List<String> dropped = partitions.dropBefore(first.ends());

        assertThat(dropped).containsExactly(first.name());
        assertThat(count("SELECT count(*) FROM jobs WHERE type LIKE 'first.day%'")).isZero();
        assertThat(count("SELECT count(*) FROM jobs WHERE type = 'second.day'")).isEqualTo(7);
        assertThat(count("SELECT count(*) FROM jobs WHERE type = 'still.queued'")).isEqualTo(1);
        assertThat(count("SELECT count(*) FROM job_keys")).as("keys go with their jobs").isEqualTo(7);
        assertThat(count("SELECT count(*) FROM job_attempts")).as("attempts go with their jobs").isEqualTo(7);
        assertThat(count("SELECT count(*) FROM pg_class WHERE relname = '" + first.name() + "'")).isZero();
        assertThat(partitions.parts()).extracting(HistoryPartitions.Part::name).doesNotContain(first.name())
                .contains(second.name());
        CountsCheck.assertCountsMatchJobs(db.jdbi());
        assertThat(partitions.dropBefore(first.ends())).as("nothing more to drop").isEmpty();
    }

    @Test
    void theSpanIsASeventhOfTheRetentionInWholeHoursWithinAnHourAndAWeek() {
        assertThat(HistoryPartitions.spanFor(Duration.ofDays(7))).isEqualTo(DAY);
        assertThat(HistoryPartitions.spanFor(Duration.ofDays(30))).isEqualTo(Duration.ofHours(102));
        assertThat(HistoryPartitions.spanFor(Duration.ofHours(2))).isEqualTo(Duration.ofHours(1));
        assertThat(HistoryPartitions.spanFor(Duration.ofDays(365))).isEqualTo(Duration.ofDays(7));
        assertThat(HistoryPartitions.spanFor(Duration.ZERO)).as("keep forever").isEqualTo(Duration.ofDays(7));
    }
}
