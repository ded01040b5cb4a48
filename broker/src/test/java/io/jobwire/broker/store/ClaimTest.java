package io.jobwire.broker.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.jobwire.broker.db.Database;
import io.jobwire.broker.testing.TestPostgres;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The claim statement, driven through {@link JobStore} on a real PostgreSQL: limits and per-type quotas
 * hold for many random mixes, the best due jobs are chosen (also when the claim follows an insert in
 * one transaction), and concurrent claimers never share a job.
 */
class ClaimTest {
    private static final long HOUR_MS = 3_600_000;

    private static Database db;
    private static JobStore store;

    @BeforeAll
    static void openStore() {
        db = Database.connect(TestPostgres.newDatabase(), 4, Duration.ofSeconds(5), "test");
        db.migrate();
        store = new JobStore(db.jdbi(), db.keyedJdbi(), new ObjectMapper(), ChangeSink.NONE,
                RetryDefaults.STANDARD, () -> 1.0);
    }

    @AfterAll
    static void closeStore() {
        db.close();
    }

    /** A job as this test made it, with what decides whether and in which order it is claimed. */
    private record Made(long id, String type, String queue, int priority, long ageMs, int priorAttempts,
                        boolean future, boolean held) {
    }

    @Test
    void claimNeverExceedsItsLimitOrQuotasAndTakesTheBestDueJobsFirst() {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        for (int round = 0; round < 250; round++) {
            String context = "seed " + seed + ", round " + round;
            String typeA = "r" + round + ".a";
            String typeB = "r" + round + ".b";
            List<Made> made = makeJobs(random, typeA, typeB, "r" + round + ".other");

            List<String> queues = random.nextBoolean() ? List.of() : List.of("q1");
            int limit = random.nextInt(21);
            List<ClaimRequest.TypeQuota> quotas = new ArrayList<>();
            quotas.add(new ClaimRequest.TypeQuota(typeA, random.nextInt(21)));
            if (random.nextInt(4) > 0) {
                quotas.add(new ClaimRequest.TypeQuota(typeB, random.nextInt(21)));
            }
            String workerId = "worker-" + round;
            ClaimRequest request = new ClaimRequest(workerId, null, quotas, queues, limit);

            List<JobRecord> claimed;
            if (random.nextBoolean()) {
                claimed = store.claim(request);
            } else {
                // The claim made with a submit: new jobs, due now or later, then the same claim in the
                // same transaction. The new jobs are the youngest; they wait behind the backlog.
                List<NewJob> fresh = new ArrayList<>();
                for (int i = random.nextInt(6); i > 0; i--) {
                    fresh.add(newJob(random.nextBoolean() ? typeA : typeB, random.nextBoolean() ? "q1" : "q2",
                            random.nextInt(5) - 2, random.nextInt(4) == 0 ? HOUR_MS : 0));
                }
                JobStore.Submitted submitted = store.insertAndClaim(fresh, request);
                assertThat(submitted.outcomes()).as(context).hasSize(fresh.size()).allMatch(SubmitOutcome::created);
                for (int i = 0; i < fresh.size(); i++) {
                    JobRecord job = submitted.outcomes().get(i).job();
                    boolean later = fresh.get(i).delayMs() > 0;
                    made.add(new Made(job.id(), job.type(), job.queue(), job.priority(), later ? -1 : 0, 0, later, false));
                }
                claimed = submitted.claimed();
            }

            List<Long> expected = expectedClaim(made, quotas, queues, limit);
            assertThat(claimed).as(context).hasSizeLessThanOrEqualTo(limit);
            for (ClaimRequest.TypeQuota quota : quotas) {
                assertThat(claimed).as(context).filteredOn(job -> job.type().equals(quota.type()))
                        .hasSizeLessThanOrEqualTo(quota.limit());
            }
            assertThat(claimed).as(context).extracting(JobRecord::id).containsExactlyElementsOf(expected);
            assertClaimedOnce(claimed, made, workerId, context);
            // Nothing else moved: the unclaimed jobs are as they were.
            String otherType = "r" + round + ".other";
            long running = db.jdbi().withHandle(handle -> handle.createQuery(
                    "SELECT count(*) FROM jobs WHERE type IN (:a, :b, :other) AND state = 'RUNNING'")
                    .bind("a", typeA).bind("b", typeB).bind("other", otherType)
                    .mapTo(Long.class).one());
            assertThat(running).as(context).isEqualTo(claimed.size());
        }
    }

    /** Up to 50 jobs of the two types (some due, some in the future, some held) plus a few of another. */
    private static List<Made> makeJobs(Random random, String typeA, String typeB, String otherType) {
        int count = random.nextInt(51);
        int others = random.nextInt(4);
        List<NewJob> batch = new ArrayList<>();
        List<Boolean> future = new ArrayList<>();
        for (int i = 0; i < count + others; i++) {
            String type = i >= count ? otherType : random.nextBoolean() ? typeA : typeB;
            boolean later = random.nextInt(6) == 0;
            future.add(later);
            batch.add(newJob(type, random.nextBoolean() ? "q1" : "q2", random.nextInt(5) - 2, later ? HOUR_MS : 0));
        }
        List<SubmitOutcome> inserted = store.insert(batch);
        List<Made> made = new ArrayList<>();
        Long[] dueIds = new Long[batch.size()];
        Long[] ages = new Long[batch.size()];
        Integer[] attempts = new Integer[batch.size()];
        int due = 0;
        for (int i = 0; i < inserted.size(); i++) {
            JobRecord job = inserted.get(i).job();
            long age = random.nextInt(100_000);
            int prior = random.nextInt(4) == 0 ? 1 + random.nextInt(3) : 0;
            boolean held = !future.get(i) && random.nextInt(8) == 0;
            if (!future.get(i)) {
                dueIds[due] = job.id();
                ages[due] = age;
                attempts[due] = prior;
                due++;
            }
            if (held) {
                assertThat(store.hold(job.id(), null).applied()).isTrue();
            }
            made.add(new Made(job.id(), job.type(), job.queue(), job.priority(), future.get(i) ? -1 : age,
                    future.get(i) ? 0 : prior, future.get(i), held));
        }
        // Spread run_at into the past (a submit cannot: a past run_at means now) and give some jobs earlier
        // attempts, so order and attempt numbers are really tested.
        int dueCount = due;
        db.jdbi().useHandle(handle -> handle.createUpdate("""
                        WITH o AS (
                            SELECT * FROM unnest(:ids::bigint[], :ages::bigint[], :attempts::int[]) AS o(id, age, attempt)
                        ), entries AS (
                            UPDATE job_ready r SET run_at = now() - o.age * interval '1 millisecond'
                            FROM o WHERE r.job_id = o.id
                        )
                        UPDATE live_jobs SET run_at = now() - o.age * interval '1 millisecond',
                                             attempt = o.attempt, spent_attempts = o.attempt
                        FROM o
                        WHERE live_jobs.id = o.id""")
                .bind("ids", java.util.Arrays.copyOf(dueIds, dueCount))
                .bind("ages", java.util.Arrays.copyOf(ages, dueCount))
                .bind("attempts", java.util.Arrays.copyOf(attempts, dueCount))
                .execute());
        return made;
    }

    /** The claim worked out by hand: per type the best due jobs up to its quota, then the best up to the limit. */
    private static List<Long> expectedClaim(List<Made> made, List<ClaimRequest.TypeQuota> quotas,
                                            List<String> queues, int limit) {
        Comparator<Made> order = Comparator.comparingInt((Made job) -> -job.priority())
                .thenComparingLong(job -> -job.ageMs())
                .thenComparingLong(Made::id);
        List<Made> candidates = new ArrayList<>();
        for (ClaimRequest.TypeQuota quota : quotas) {
            made.stream()
                    .filter(job -> job.type().equals(quota.type()) && !job.future() && !job.held())
                    .filter(job -> queues.isEmpty() || queues.contains(job.queue()))
                    .sorted(order)
                    .limit(quota.limit())
                    .forEach(candidates::add);
        }
        return candidates.stream().sorted(order).limit(limit).map(Made::id).toList();
    }

    /** Each claimed job: RUNNING for this worker, attempt one higher, its own token, one attempt row. */
    private static void assertClaimedOnce(List<JobRecord> claimed, List<Made> made, String workerId, String context) {
        Map<Long, Made> byId = made.stream().collect(Collectors.toMap(Made::id, job -> job));
        Set<UUID> tokens = new HashSet<>();
        for (JobRecord job : claimed) {
            assertThat(job.state()).as(context).isEqualTo(JobStatus.RUNNING);
            assertThat(job.workerId()).as(context).isEqualTo(workerId);
            assertThat(job.attempt()).as(context).isEqualTo(byId.get(job.id()).priorAttempts() + 1);
            assertThat(job.leaseToken()).as(context).isNotNull();
            assertThat(tokens.add(job.leaseToken())).as(context + ": token of job " + job.id() + " is unique").isTrue();
            assertThat(job.leaseExpiresAt()).as(context).isAfter(job.startedAt());
        }
        if (claimed.isEmpty()) {
            return;
        }
        List<Long> ids = claimed.stream().map(JobRecord::id).toList();
        Map<Long, String> rows = new HashMap<>();
        db.jdbi().useHandle(handle -> handle.createQuery(
                        "SELECT id, attempt, worker_id, state FROM jobs WHERE id = ANY (:ids::bigint[])")
                .bind("ids", ids.toArray(Long[]::new))
                .map((rs, ctx) -> rows.put(rs.getLong("id"),
                        rs.getInt("attempt") + "/" + rs.getString("worker_id") + "/" + rs.getString("state")))
                .list());
        Map<Long, String> expected = new HashMap<>();
        claimed.forEach(job -> expected.put(job.id(), job.attempt() + "/" + workerId + "/RUNNING"));
        assertThat(rows).as(context).isEqualTo(expected);
    }

    @Test
    void anInsertAndTheClaimAfterItCommitTogetherOrNotAtAll() {
        NewJob job = newJob("together", "default", 0, 0);
        // A negative quota fails the claim statement (LIMIT must not be negative) after the insert ran.
        ClaimRequest failing = new ClaimRequest("w", null, List.of(new ClaimRequest.TypeQuota("together", -1)),
                List.of(), 1);
        assertThatThrownBy(() -> store.insertAndClaim(List.of(job), failing))
                .hasMessageContaining("LIMIT must not be negative");
        assertThat(countOf("together")).as("the insert was rolled back with the claim").isZero();

        JobStore.Submitted submitted = store.insertAndClaim(List.of(job), new ClaimRequest("w", null,
                List.of(new ClaimRequest.TypeQuota("together", 1)), List.of(), 1));
        assertThat(submitted.claimed()).extracting(JobRecord::id).containsExactly(submitted.outcomes().get(0).job().id());
        assertThat(countOf("together")).isEqualTo(1);
        String row = db.jdbi().withHandle(handle -> handle.createQuery(
                        "SELECT state || ' ' || (updated_at = created_at) FROM jobs WHERE type = 'together'")
                .mapTo(String.class).one());
        assertThat(row).as("claimed in the transaction that inserted it (now() is the transaction's start)")
                .isEqualTo("RUNNING true");
    }

    private static long countOf(String type) {
        return db.jdbi().withHandle(handle -> handle.createQuery("SELECT count(*) FROM jobs WHERE type = :type")
                .bind("type", type).mapTo(Long.class).one());
    }

    @Test
    void concurrentClaimersNeverGetTheSameJob() throws Exception {
        int total = 3000;
        for (int from = 0; from < total; from += 1000) {
            List<NewJob> batch = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                batch.add(newJob("race", "default", i % 3, 0));
            }
            store.insert(batch);
        }
        AtomicInteger claimedSoFar = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try {
            List<Future<List<JobRecord>>> results = new ArrayList<>();
            for (String workerId : List.of("claimer-1", "claimer-2")) {
                Callable<List<JobRecord>> claimer = () -> {
                    Random random = new Random();
                    List<JobRecord> mine = new ArrayList<>();
                    start.await();
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                    while (claimedSoFar.get() < total && System.nanoTime() < deadline) {
                        List<JobRecord> got = store.claim(new ClaimRequest(workerId, null,
                                List.of(new ClaimRequest.TypeQuota("race", 25)), List.of(), 1 + random.nextInt(25)));
                        mine.addAll(got);
                        claimedSoFar.addAndGet(got.size());
                    }
                    return mine;
                };
                results.add(threads.submit(claimer));
            }
            start.countDown();
            List<JobRecord> first = results.get(0).get(30, TimeUnit.SECONDS);
            List<JobRecord> second = results.get(1).get(30, TimeUnit.SECONDS);

            assertThat(first).isNotEmpty();
            assertThat(second).isNotEmpty();
            Set<Long> firstIds = first.stream().map(JobRecord::id).collect(Collectors.toSet());
            Set<Long> secondIds = second.stream().map(JobRecord::id).collect(Collectors.toSet());
            assertThat(firstIds).hasSize(first.size()).doesNotContainAnyElementsOf(secondIds);
            assertThat(secondIds).hasSize(second.size());
            assertThat(first.size() + second.size()).isEqualTo(total);
            List<JobRecord> all = new ArrayList<>(first);
            all.addAll(second);
            assertThat(all).allSatisfy(job -> assertThat(job.attempt()).isEqualTo(1));
            assertThat(all.stream().map(JobRecord::leaseToken).collect(Collectors.toSet())).hasSize(total);

            Map<String, Long> perWorker = new HashMap<>();
            db.jdbi().useHandle(handle -> handle.createQuery("""
                            SELECT j.worker_id, count(*) AS n
                            FROM jobs j
                            WHERE j.type = 'race' AND j.state = 'RUNNING' AND j.attempt = 1
                            GROUP BY j.worker_id""")
                    .map((rs, ctx) -> perWorker.put(rs.getString("worker_id"), rs.getLong("n")))
                    .list());
            assertThat(perWorker).containsOnly(Map.entry("claimer-1", (long) first.size()),
                    Map.entry("claimer-2", (long) second.size()));
        } finally {
            threads.shutdownNow();
        }
    }

    private static NewJob newJob(String type, String queue, int priority, long delayMs) {
        return new NewJob(type, queue, "{}", priority, null, delayMs, null, 5, 30_000, Map.of(), null, null, "test");
    }
}
