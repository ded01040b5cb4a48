package io.jobwire.client;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Duration;
import io.jobwire.api.v1.AttemptOutcome;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.RetryPolicy;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.TestPostgres;
import io.jobwire.worker.JobType;
import io.jobwire.worker.NonRetryableException;
import io.jobwire.worker.Worker;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Worker SDK against real brokers and PostgreSQL. */
class WorkerTest {
    private static final java.time.Duration WAIT = java.time.Duration.ofSeconds(20);
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();
    private static JobwireClient client;
    private final List<Worker> workers = new ArrayList<>();

    @BeforeAll
    static void start() {
        client = fixture.client();
    }

    @AfterEach
    void closeWorkers() {
        workers.forEach(Worker::close);
    }

    private Worker worker(Worker.Builder builder) {
        Worker worker = builder.start();
        workers.add(worker);
        return worker;
    }

    private static Worker.Builder builder() {
        return Worker.builder().target("127.0.0.1:" + fixture.broker().port()).workerId("sdk-test").concurrency(4);
    }

    private static JobSpec.Builder spec(String type) {
        return JobSpec.newBuilder().setType(type)
                .setRetryPolicy(RetryPolicy.newBuilder().setInitialDelay(Duration.getDefaultInstance()));
    }

    @Test
    void submitAndWaitSeesProgressAndReturnsTheResult() {
        worker(builder().handle("sdk.progress", job -> {
            Map<?, ?> payload = job.payload(Map.class);
            for (int step = 1; step <= 3; step++) {
                job.progress(step * 30, "step " + step, Map.of("step", step));
                Thread.sleep(250);
            }
            return Map.of("doubled", ((Number) payload.get("n")).intValue() * 2);
        }));
        List<Job> seen = new ArrayList<>();
        Job done = client.submitAndWait(spec("sdk.progress").setPayload("{\"n\":21}").build(), WAIT, seen::add);
        assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        assertThat(done.getResult()).isEqualTo("{\"doubled\": 42}");
        assertThat(seen).anySatisfy(job -> assertThat(job.getProgress().getMessage()).startsWith("step"));
        assertThat(seen).extracting(job -> job.getProgress().getPercent()).isSorted();
    }

    @Test
    void theLastProgressBeforeTheResultIsKeptEvenWhenReportedFasterThanItIsSent() {
        worker(builder().handle("sdk.lastProgress", job -> {
            job.progress(30, "copying");
            job.progress(30, "copying", Map.of("copied", 3));
            return "done";
        }));
        Job done = client.submitAndWait(spec("sdk.lastProgress").build(), WAIT, job -> { });
        assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        assertThat(done.getProgress().getDetails()).isEqualTo("{\"copied\": 3}");
    }

    @Test
    void thrownExceptionsAreRetriedUntilTheHandlerSucceeds() {
        worker(builder().handle("sdk.flaky", job -> {
            if (job.attempt() < 3) {
                throw new IllegalStateException("flaky attempt " + job.attempt());
            }
            return "\"third time lucky\"";
        }));
        Job done = client.submitAndWait(spec("sdk.flaky").build(), WAIT, null);
        assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        assertThat(done.getAttempt()).isEqualTo(3);
        Job history = client.get(done.getId());
        assertThat(history.getAttemptsList()).extracting(a -> a.getOutcome()).containsExactly(
                AttemptOutcome.ATTEMPT_OUTCOME_FAILED, AttemptOutcome.ATTEMPT_OUTCOME_FAILED,
                AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
        String error = history.getAttempts(0).getError();
        assertThat(error).startsWith("IllegalStateException: flaky attempt 1\n    at ").doesNotContain("java.lang.");
        assertThat(error.lines()).hasSizeLessThanOrEqualTo(6);
    }

    @Test
    void nonRetryableExceptionFailsAtOnce() {
        worker(builder().handle("sdk.permanent", job -> {
            throw new NonRetryableException("no such customer");
        }));
        Job done = client.submitAndWait(spec("sdk.permanent").build(), WAIT, null);
        assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        assertThat(done.getAttempt()).isEqualTo(1);
        assertThat(done.getLastError()).isEqualTo("no such customer");
    }

    @Test
    void cancelInterruptsTheRunningHandler() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        AtomicBoolean interrupted = new AtomicBoolean();
        AtomicBoolean sawCancelled = new AtomicBoolean();
        worker(builder().handle("sdk.cancel", job -> {
            started.countDown();
            try {
                Thread.sleep(30_000);
            } catch (InterruptedException e) {
                interrupted.set(true);
                sawCancelled.set(job.isCancelled());
            }
            return "\"finished anyway\"";
        }));
        String id = client.submit("sdk.cancel", Map.of()).getId();
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        client.cancel(id, "not needed");
        await().atMost(WAIT).untilTrue(interrupted);
        assertThat(sawCancelled).isTrue();
        Job job = client.get(id);
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
        assertThat(job.getResult()).as("the handler's late result changed nothing").isEmpty();
    }

    @Test
    void longJobSurvivesOnHeartbeats() {
        worker(builder().handle("sdk.long", job -> {
            Thread.sleep(3000);
            return "\"slow but alive\"";
        }));
        Job done = client.submitAndWait(spec("sdk.long").setLeaseDuration(Duration.newBuilder().setSeconds(1)).build(),
                WAIT, null);
        assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        assertThat(done.getAttempt()).as("never reaped").isEqualTo(1);
    }

    @Test
    void lostLeaseInterruptsTheHandlerAndItsResultIsNotSent() throws Exception {
        AtomicInteger interruptedAttempt = new AtomicInteger();
        CountDownLatch firstStarted = new CountDownLatch(1);
        worker(builder().handle("sdk.lost", job -> {
            if (job.attempt() == 1) {
                firstStarted.countDown();
                try {
                    Thread.sleep(30_000);
                } catch (InterruptedException e) {
                    interruptedAttempt.set(job.attempt());
                }
                return "\"from the lost attempt\"";
            }
            return "\"from attempt " + job.attempt() + "\"";
        }));
        String id = client.submit(spec("sdk.lost").setLeaseDuration(Duration.newBuilder().setSeconds(3)).build()).getJob().getId();
        assertThat(firstStarted.await(10, TimeUnit.SECONDS)).isTrue();
        fixture.expireLease(id);
        fixture.broker().reaper().reapAll();
        await().atMost(WAIT).until(() -> interruptedAttempt.get() == 1);
        await().atMost(WAIT).until(() -> client.get(id).getState() == JobState.JOB_STATE_SUCCEEDED);
        assertThat(client.get(id).getResult()).isEqualTo("\"from attempt 2\"");
    }

    @Test
    void jobsRunAtOnceUpToTheWorkersConcurrency() {
        CyclicBarrier allFour = new CyclicBarrier(4);
        worker(builder().concurrency(4).handle("sdk.wide", job -> {
            allFour.await(10, TimeUnit.SECONDS); // only four handlers running at once get past this
            return null;
        }));
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ids.add(client.submit("sdk.wide", "{}").getId());
        }
        await().atMost(WAIT).until(() -> ids.stream().allMatch(id -> client.get(id).getState() == JobState.JOB_STATE_SUCCEEDED));
        assertThat(ids).allSatisfy(id -> assertThat(client.get(id).getAttempt()).as("no handler timed out").isEqualTo(1));
    }

    @Test
    void perTypeConcurrencyIsRespected() {
        AtomicInteger running = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        worker(builder().concurrency(4).handle(JobType.of("sdk.narrow").concurrency(1), job -> {
            most.accumulateAndGet(running.incrementAndGet(), Math::max);
            Thread.sleep(200);
            running.decrementAndGet();
            return null;
        }));
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ids.add(client.submit("sdk.narrow", "{}").getId());
        }
        await().atMost(WAIT).until(() -> ids.stream().allMatch(id -> client.get(id).getState() == JobState.JOB_STATE_SUCCEEDED));
        assertThat(most.get()).isEqualTo(1);
    }

    @Test
    void shutdownGivesUnfinishedJobsBackAtOnce() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        AtomicBoolean interrupted = new AtomicBoolean();
        Worker worker = builder().handle("sdk.drain", job -> {
            started.countDown();
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                interrupted.set(true);
            }
            return null;
        }).start();
        String id = client.submit("sdk.drain", "{}").getId();
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        long before = System.nanoTime();
        worker.shutdown(java.time.Duration.ofMillis(300));
        assertThat(java.time.Duration.ofNanos(System.nanoTime() - before)).isLessThan(scaled(java.time.Duration.ofSeconds(10)));
        assertThat(interrupted).isTrue();
        Job job = client.get(id);
        assertThat(job.getState()).as("released, not left to its 30 s lease").isEqualTo(JobState.JOB_STATE_QUEUED);
        assertThat(job.getAttempts(0).getOutcome()).isEqualTo(AttemptOutcome.ATTEMPT_OUTCOME_RELEASED);
        assertThat(job.getReleases()).isEqualTo(1);
    }

    @Test
    void workerMovesToTheNextBrokerAndFinishesItsJob() throws Exception {
        String url = TestPostgres.newDatabase();
        BrokerFixture first = BrokerFixture.start(url, c -> c);
        try (BrokerFixture second = BrokerFixture.start(url, c -> c);
             JobwireClient viaSecond = JobwireClient.connect("127.0.0.1:" + second.broker().port())) {
            CountDownLatch started = new CountDownLatch(1);
            worker(Worker.builder().target("127.0.0.1:" + first.broker().port())
                    .target("127.0.0.1:" + second.broker().port())
                    .workerId("mover").concurrency(2)
                    .handle("sdk.move", job -> {
                        started.countDown();
                        Thread.sleep(2500);
                        return "\"finished on whichever broker is up\"";
                    }));
            String id = viaSecond.submit("sdk.move", "{}").getId();
            assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
            first.close();
            await().atMost(WAIT).until(() -> viaSecond.get(id).getState() == JobState.JOB_STATE_SUCCEEDED);
            Job job = viaSecond.get(id);
            assertThat(job.getAttempt()).as("the same attempt finished after the move").isEqualTo(1);
            assertThat(job.getResult()).contains("whichever");
        } finally {
            first.close();
        }
    }

    @Test
    void handlerIsStoppedWhenNoHeartbeatGetsThroughBeforeTheLeaseEnds() throws Exception {
        try (BrokerFixture lonely = BrokerFixture.start();
             JobwireClient lonelyClient = JobwireClient.connect("127.0.0.1:" + lonely.broker().port())) {
            CountDownLatch started = new CountDownLatch(1);
            AtomicBoolean stopped = new AtomicBoolean();
            worker(Worker.builder().target("127.0.0.1:" + lonely.broker().port()).concurrency(1)
                    .handle("sdk.cutoff", job -> {
                        started.countDown();
                        try {
                            Thread.sleep(60_000);
                        } catch (InterruptedException e) {
                            stopped.set(job.isCancelled());
                        }
                        return null;
                    }));
            lonelyClient.submit(JobSpec.newBuilder().setType("sdk.cutoff")
                    .setLeaseDuration(Duration.newBuilder().setSeconds(2)).build());
            assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
            lonely.close(); // the only broker is gone: heartbeats cannot get through
            await().atMost(scaled(java.time.Duration.ofSeconds(6))).untilTrue(stopped);
        }
    }

    @Test
    void closeTwiceLeavesNoWorkerThreads() {
        Worker worker = builder().handle("sdk.idle", job -> null).start();
        await().atMost(WAIT).until(worker::isConnected);
        worker.close();
        worker.close();
        await().atMost(scaled(java.time.Duration.ofSeconds(5))).until(() -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(thread -> thread.getName().startsWith("jobwire-worker") && thread.isAlive()
                        && workers.isEmpty()));
    }
}
