package io.jobwire.broker.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.jobwire.broker.db.Database;
import io.jobwire.broker.store.WorkerWrites.Completion;
import io.jobwire.broker.store.WorkerWrites.Failure;
import io.jobwire.broker.testing.TestPostgres;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A job moves from live_jobs to job_history in the statement that finishes it. Readers that look jobs up
 * by id all the while (by one id and by many at once) find every job at every instant, once, and never see
 * it go back to a state it left: a finished job never reads as running again.
 */
class MoveVisibilityTest {
    private static Database db;
    private static JobStore store;
    private static JobQueries queries;

    @BeforeAll
    static void open() {
        db = Database.connect(TestPostgres.newDatabase(), 8, Duration.ofSeconds(5), "test");
        db.migrate();
        store = new JobStore(db.jdbi(), db.keyedJdbi(), new ObjectMapper(), ChangeSink.NONE, RetryDefaults.STANDARD,
                () -> 1.0);
        queries = new JobQueries(db.jdbi(), new ObjectMapper());
    }

    @AfterAll
    static void close() {
        db.close();
    }

    /** QUEUED and RUNNING may alternate (a retry); after a finish, nothing else may follow. */
    private static boolean follows(JobStatus before, JobStatus after) {
        return before == after || !before.isFinished();
    }

    @Test
    void everyJobIsFoundByIdOnceAtEveryInstantWhileItMovesToHistory() throws Exception {
        String type = "move.visible";
        List<NewJob> batch = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            batch.add(new NewJob(type, "default", "{}", 0, null, 0, null, 2, 30_000, Map.of(), 0L, 0L, "test"));
        }
        List<Long> ids = store.insert(batch).stream().map(outcome -> outcome.job().id()).toList();
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong reads = new AtomicLong();
        ExecutorService readers = Executors.newFixedThreadPool(3);
        List<Future<?>> reading = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            reading.add(readers.submit(() -> {
                Map<Long, JobStatus> seen = new HashMap<>();
                while (!done.get()) {
                    List<JobRecord> found = queries.getMany(ids);
                    assertThat(found).extracting(JobRecord::id).as("every job, once").hasSameSizeAs(ids)
                            .doesNotHaveDuplicates();
                    for (JobRecord job : found) {
                        JobStatus before = seen.put(job.id(), job.state());
                        assertThat(before == null || follows(before, job.state()))
                                .as("job %d went from %s to %s", job.id(), before, job.state()).isTrue();
                    }
                    reads.incrementAndGet();
                }
                return null;
            }));
        }
        reading.add(readers.submit(() -> {
            int i = 0;
            while (!done.get()) {
                long id = ids.get(i++ % ids.size());
                assertThat(queries.get(id, null)).as("job %d by id", id).isPresent();
            }
            return null;
        }));
        // Claim and finish them all: every other job fails once first (queued again), some are cancelled.
        int finished = 0;
        while (finished < ids.size()) {
            List<JobRecord> claimed = store.claim(new ClaimRequest("mover", null,
                    List.of(new ClaimRequest.TypeQuota(type, 100)), List.of(), 100));
            List<Completion> completions = new ArrayList<>();
            List<Failure> failures = new ArrayList<>();
            for (JobRecord job : claimed) {
                LeaseRef lease = new LeaseRef(job.id(), job.attempt(), job.leaseToken());
                if (job.attempt() == 1 && job.id() % 2 == 0) {
                    failures.add(new Failure(lease, "once", true, 0L));
                } else if (job.id() % 7 == 0) {
                    assertThat(store.cancel(job.id(), null, "enough").applied()).isTrue();
                    finished++;
                } else {
                    completions.add(new Completion(lease, "null"));
                }
            }
            assertThat(store.fail(null, failures)).allMatch(result -> result.outcome() == WriteOutcome.ACCEPTED);
            assertThat(store.complete(null, completions)).allMatch(result -> result.outcome() == WriteOutcome.ACCEPTED);
            finished += completions.size();
        }
        done.set(true);
        for (Future<?> future : reading) {
            future.get();
        }
        readers.shutdown();
        assertThat(reads.get()).as("the readers read while jobs moved").isGreaterThan(2);
        assertThat(queries.getMany(ids)).extracting(JobRecord::state).allMatch(JobStatus::isFinished);
        long live = db.jdbi().withHandle(h -> h.createQuery("SELECT count(*) FROM live_jobs").mapTo(Long.class).one());
        assertThat(live).isZero();
    }
}
