package io.jobwire.broker.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.jobwire.broker.convert.Statuses;
import io.jobwire.broker.db.Database;
import io.jobwire.broker.store.WorkerWrites.Completion;
import io.jobwire.broker.testing.TestPostgres;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Group commit on a real PostgreSQL: concurrent requests share statements and commits, every caller
 * gets its own answer, one bad request cannot fail the others, and writes of several callers about the
 * same job behave as if they had come one after the other.
 */
class GroupCommitTest {
    private static Database db;
    private static JobStore store;
    private static GroupWrites writes;
    /** Submits as the dispatcher gathers them, without its claims. */
    private static GroupCommit<NewJob, SubmitOutcome> submits;
    private static ExecutorService submitThreads;

    @BeforeAll
    static void open() {
        db = Database.connect(TestPostgres.newDatabase(), 8, Duration.ofSeconds(5), "test");
        db.migrate();
        store = new JobStore(db.jdbi(), db.keyedJdbi(), new ObjectMapper(), ChangeSink.NONE,
                RetryDefaults.STANDARD, () -> 1.0);
        writes = new GroupWrites(store, Statuses::isDatabaseUnavailable, 2);
        submitThreads = Executors.newCachedThreadPool();
        submits = new GroupCommit<>("submits", store::insert, Statuses::isDatabaseUnavailable, 2_000, 2, submitThreads,
                GroupCommit.Bound.none());
    }

    @AfterAll
    static void close() {
        writes.close();
        submits.close();
        submitThreads.shutdown();
        db.close();
    }

    private static NewJob job(String type, String key) {
        return new NewJob(type, "default", "{}", 0, null, 0L, key, 3, 30_000L, Map.of(), null, null, "tester");
    }

    @Test
    void concurrentSubmitsShareCommitsAndEachCallerGetsItsOwnJob() throws Exception {
        int callers = 64;
        long batchesBefore = submits.batches();
        ExecutorService pool = Executors.newFixedThreadPool(callers);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<List<SubmitOutcome>>> answers = new ArrayList<>();
        for (int i = 0; i < callers; i++) {
            int n = i;
            answers.add(pool.submit(() -> {
                go.await();
                return submits.apply(List.of(job("group.submit", "key-" + n), job("group.submit", null)));
            }));
        }
        go.countDown();
        Set<Long> ids = new HashSet<>();
        for (int i = 0; i < callers; i++) {
            List<SubmitOutcome> outcome = answers.get(i).get(30, TimeUnit.SECONDS);
            assertThat(outcome).hasSize(2);
            assertThat(outcome.get(0).job().idempotencyKey()).isEqualTo("key-" + i);
            assertThat(outcome.get(1).job().idempotencyKey()).isNull();
            outcome.forEach(o -> assertThat(o.created()).isTrue());
            outcome.forEach(o -> ids.add(o.job().id()));
        }
        pool.shutdown();
        assertThat(ids).hasSize(2 * callers);
        long rows = db.jdbi().withHandle(h -> h.createQuery("SELECT count(*) FROM jobs WHERE type = 'group.submit'")
                .mapTo(Long.class).one());
        assertThat(rows).isEqualTo(2L * callers);
        long batches = submits.batches() - batchesBefore;
        assertThat(batches).as("64 concurrent callers were gathered into fewer commits").isLessThan(callers / 2);
    }

    @Test
    void aLoneRequestDoesNotWaitForABatchToFill() {
        List<SubmitOutcome> outcome = submits.submit(List.of(job("group.lone", null)))
                .orTimeout(5, TimeUnit.SECONDS).join();
        assertThat(outcome).hasSize(1);
        assertThat(outcome.get(0).created()).isTrue();
    }

    @Test
    void oneBadRequestFailsAloneWhenItsBatchIsRetriedRequestByRequest() throws Exception {
        CountDownLatch firstRunning = new CountDownLatch(1);
        CountDownLatch releaseFirst = new CountDownLatch(1);
        ExecutorService executor = Executors.newCachedThreadPool();
        List<List<String>> applied = new ArrayList<>();
        GroupCommit<String, String> group = new GroupCommit<>("test", items -> {
            synchronized (applied) {
                applied.add(List.copyOf(items));
            }
            if (items.contains("first")) {
                firstRunning.countDown();
                await(releaseFirst);
            }
            if (items.contains("poison")) {
                throw new IllegalArgumentException("poison in " + items);
            }
            return items.stream().map(String::toUpperCase).toList();
        }, error -> false, 100, 1, executor, GroupCommit.Bound.none());
        CompletableFuture<List<String>> first = group.submit(List.of("first"));
        await(firstRunning);
        CompletableFuture<List<String>> a = group.submit(List.of("a", "b"));
        CompletableFuture<List<String>> poison = group.submit(List.of("poison"));
        CompletableFuture<List<String>> c = group.submit(List.of("c"));
        releaseFirst.countDown();

        assertThat(first.get(5, TimeUnit.SECONDS)).containsExactly("FIRST");
        assertThat(a.get(5, TimeUnit.SECONDS)).containsExactly("A", "B");
        assertThat(c.get(5, TimeUnit.SECONDS)).containsExactly("C");
        assertThat(poison).failsWithin(Duration.ofSeconds(5));
        synchronized (applied) {
            assertThat(applied.get(1)).as("the three waiting requests were gathered into one batch")
                    .containsExactly("a", "b", "poison", "c");
            assertThat(applied).hasSize(5);
        }
        group.close();
        assertThat(group.submit(List.of("late"))).failsWithin(Duration.ofSeconds(1));
        executor.shutdown();
    }

    @Test
    void twoFinishesOfOneLeaseInOneBatchAreAppliedInOrder() {
        submits.apply(List.of(job("group.twice", null)));
        JobRecord claimed = store.claim(new ClaimRequest("w", null,
                List.of(new ClaimRequest.TypeQuota("group.twice", 1)), List.of(), 1)).get(0);
        List<WriteResult> results = store.completeAll(List.of(
                new Fenced<>(null, new Completion(claimed.lease(), "1")),
                new Fenced<>(null, new Completion(claimed.lease(), "2"))));
        assertThat(results).extracting(WriteResult::outcome)
                .containsExactly(WriteOutcome.ACCEPTED, WriteOutcome.LEASE_LOST);
        String result = db.jdbi().withHandle(h -> h.createQuery("SELECT result::text FROM jobs WHERE id = :id")
                .bind("id", claimed.id()).mapTo(String.class).one());
        assertThat(result).isEqualTo("1");
    }

    @Test
    void eachWriteInABatchIsFencedByItsOwnPrincipal() {
        submits.apply(List.of(job("group.principal", null), job("group.principal", null)));
        JobRecord ofAlice = store.claim(new ClaimRequest("w", "alice",
                List.of(new ClaimRequest.TypeQuota("group.principal", 1)), List.of(), 1)).get(0);
        JobRecord ofBob = store.claim(new ClaimRequest("w", "bob",
                List.of(new ClaimRequest.TypeQuota("group.principal", 1)), List.of(), 1)).get(0);
        List<WriteResult> results = store.completeAll(List.of(
                new Fenced<>("bob", new Completion(ofAlice.lease(), "null")),
                new Fenced<>("bob", new Completion(ofBob.lease(), "null"))));
        assertThat(results).extracting(WriteResult::outcome)
                .containsExactly(WriteOutcome.NOT_FOUND, WriteOutcome.ACCEPTED);
        assertThat(results.get(0).message()).as("told nothing about another principal's job")
                .isEqualTo("job " + ofAlice.id() + " does not exist");
    }

    private static void await(CountDownLatch latch) {
        try {
            assertThat(latch.await(5, TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
