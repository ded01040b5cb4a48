package io.jobwire.broker.dispatch;

import io.jobwire.broker.testing.CountsCheck;
import org.jdbi.v3.core.Jdbi;
import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.Ack;
import io.jobwire.api.v1.AckAction;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.Complete;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.SubmitResponse;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Four workers race through 10,000 jobs: every job is assigned once and succeeds exactly once, and the
 * database agrees (one attempt each, one history row each).
 */
class ExactlyOnceTest {
    private static final int JOBS = 10_000;
    private static final int BATCH = 1_000;
    private static final int WORKERS = 4;
    private static final int CONCURRENCY = 16;

    @Test
    void fourWorkersRacingThroughTenThousandJobsCompleteEachExactlyOnce() throws Exception {
        try (BrokerFixture fixture = BrokerFixture.start()) {
            AtomicInteger accepted = new AtomicInteger();
            List<Racer> racers = new ArrayList<>();
            for (int i = 1; i <= WORKERS; i++) {
                String name = "racer-" + i;
                racers.add(new Racer(name, fixture.connectWorker(name, CONCURRENCY, "race.job"), accepted));
            }
            ExecutorService threads = Executors.newFixedThreadPool(WORKERS);
            try {
                List<Future<?>> running = new ArrayList<>();
                racers.forEach(racer -> running.add(threads.submit(racer::run)));

                long started = System.nanoTime();
                Set<String> submitted = new HashSet<>();
                for (int from = 0; from < JOBS; from += BATCH) {
                    SubmitBatchRequest.Builder batch = SubmitBatchRequest.newBuilder();
                    for (int i = from; i < from + BATCH; i++) {
                        batch.addJobs(JobSpec.newBuilder().setType("race.job").setPayload("{\"n\":" + i + "}"));
                    }
                    for (SubmitResponse result : fixture.jobs().submitBatch(batch.build()).getResultsList()) {
                        submitted.add(result.getJob().getId());
                    }
                }
                assertThat(submitted).hasSize(JOBS);

                await().atMost(scaled(Duration.ofSeconds(60))).until(() -> accepted.get() >= JOBS || anyDone(running));
                Duration took = Duration.ofNanos(System.nanoTime() - started);
                racers.forEach(Racer::stop);
                for (Future<?> racer : running) {
                    racer.get(10, TimeUnit.SECONDS); // rethrows a racer's assertion failure
                }
                System.out.printf("ExactlyOnceTest: %d jobs submitted and completed by %d workers in %d ms%n",
                        JOBS, WORKERS, took.toMillis());

                // Every worker's ACCEPTED completions together: each submitted job exactly once.
                List<String> all = new ArrayList<>();
                racers.forEach(racer -> all.addAll(racer.completed));
                assertThat(all).hasSize(JOBS).doesNotHaveDuplicates();
                assertThat(new HashSet<>(all)).isEqualTo(submitted);
                racers.forEach(racer -> {
                    assertThat(racer.refused).as(racer.name + " refused acks").isEmpty();
                    assertThat(racer.assigned).as("jobs assigned to one worker").doesNotHaveDuplicates();
                    assertThat(racer.completed).as("each worker did its share").isNotEmpty();
                });
                List<String> assigned = new ArrayList<>();
                racers.forEach(racer -> assigned.addAll(racer.assigned));
                assertThat(assigned).as("no job was assigned twice").hasSize(JOBS).doesNotHaveDuplicates();

                // The database agrees.
                assertThat(fixture.queryLong("SELECT count(*) FROM jobs")).isEqualTo(JOBS);
                assertThat(fixture.queryLong("SELECT count(*) FROM jobs WHERE state = 'SUCCEEDED' AND attempt = 1"))
                        .isEqualTo(JOBS);
                assertThat(fixture.queryLong("SELECT count(*) FROM job_attempt_history")).isEqualTo(JOBS);
                CountsCheck.assertCountsMatchJobs(Jdbi.create(fixture.jdbcUrl()));
                assertThat(fixture.queryLong("""
                        SELECT count(*) FROM jobs j
                        WHERE (SELECT count(*) FROM job_attempt_history a
                               WHERE a.job_id = j.id AND a.attempt = 1 AND a.outcome = 'succeeded') = 1"""))
                        .isEqualTo(JOBS);
                Map<String, Long> perWorker = attemptsPerWorker(fixture);
                for (int i = 0; i < WORKERS; i++) {
                    assertThat(perWorker.get("racer-" + (i + 1))).isEqualTo((long) racers.get(i).completed.size());
                }
            } finally {
                racers.forEach(Racer::stop);
                threads.shutdownNow();
            }
        }
    }

    private static boolean anyDone(List<Future<?>> racers) {
        return racers.stream().anyMatch(Future::isDone);
    }

    private static Map<String, Long> attemptsPerWorker(BrokerFixture fixture) {
        Map<String, Long> counts = new HashMap<>();
        try (Connection connection = DriverManager.getConnection(fixture.jdbcUrl());
             Statement sql = connection.createStatement();
             ResultSet rows = sql.executeQuery("SELECT worker_id, count(*) FROM job_attempt_history GROUP BY worker_id")) {
            while (rows.next()) {
                counts.put(rows.getString(1), rows.getLong(2));
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return counts;
    }

    /**
     * One worker's loop: takes whatever was assigned, sends a Complete for each job at once, then reads
     * the Acks and grants one credit back per finished job.
     */
    private static final class Racer {
        private final String name;
        private final RawWorker worker;
        private final AtomicInteger accepted;
        private final List<String> assigned = new ArrayList<>();
        private final List<String> completed = new ArrayList<>();
        private final List<Ack> refused = new ArrayList<>();
        private volatile boolean stopped;

        Racer(String name, RawWorker worker, AtomicInteger accepted) {
            this.name = name;
            this.worker = worker;
            this.accepted = accepted;
        }

        void run() {
            worker.credit(CONCURRENCY);
            while (!stopped) {
                if (!worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(100))) {
                    continue;
                }
                List<AssignedJob> jobs = worker.await(BrokerMessage::hasAssign).getAssign().getJobsList();
                for (AssignedJob job : jobs) {
                    assertThat(job.getLease().getAttempt()).isEqualTo(1);
                    assigned.add(job.getLease().getJobId());
                    worker.send(WorkerMessage.newBuilder().setComplete(Complete.newBuilder()
                            .setLease(job.getLease()).setResult("{\"by\":\"" + name + "\"}")).build());
                }
                for (AssignedJob job : jobs) {
                    Ack ack = worker.awaitAck(job.getLease().getJobId(), AckAction.ACK_ACTION_COMPLETE);
                    if (ack.getStatus() == AckStatus.ACK_STATUS_ACCEPTED) {
                        completed.add(ack.getJobId());
                        accepted.incrementAndGet();
                    } else {
                        refused.add(ack);
                    }
                    worker.credit(1);
                }
            }
        }

        void stop() {
            stopped = true;
        }
    }
}
