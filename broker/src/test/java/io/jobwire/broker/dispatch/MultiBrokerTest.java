package io.jobwire.broker.dispatch;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.AckAction;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.Hello;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.StatsResponse;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.api.v1.WorkerInfo;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.broker.testing.TestPostgres;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two brokers on one database. Their poll interval is 30 s, so anything that happens within a second or
 * two on the other broker came through LISTEN/NOTIFY, not through polling.
 */
class MultiBrokerTest {
    /** Well under the 30 s poll; longer on a busy machine (see Slowness). */
    private static final Duration PROMPTLY = scaled(Duration.ofSeconds(2));

    private static BrokerFixture a;
    private static BrokerFixture b;

    @BeforeAll
    static void startTwoBrokers() {
        String url = TestPostgres.newDatabase();
        a = BrokerFixture.start(url, config -> config.pollInterval(Duration.ofSeconds(30)));
        b = BrokerFixture.start(url, config -> config.pollInterval(Duration.ofSeconds(30)));
    }

    @AfterAll
    static void stopBrokers() {
        b.close();
        a.close();
    }

    @Test
    void jobSubmittedThroughOneBrokerIsAssignedPromptlyToAWorkerOfTheOther() {
        try (RawWorker worker = b.connectWorker("on-b", 2, "cross.assign")) {
            worker.credit(1);
            // B's dispatcher has looked once, found nothing and now sleeps for its 30 s poll.
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(300))).isFalse();

            long started = System.nanoTime();
            String id = a.submit("cross.assign", "{\"via\":\"a\"}");
            AssignedJob job = worker.await(BrokerMessage::hasAssign, PROMPTLY).getAssign().getJobs(0);
            Duration took = Duration.ofNanos(System.nanoTime() - started);

            assertThat(job.getLease().getJobId()).isEqualTo(id);
            assertThat(took).isLessThan(PROMPTLY);
            assertThat(worker.complete(job.getLease(), "{}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            assertThat(a.jobs().get(GetRequest.newBuilder().setId(id).build()).getState())
                    .isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        }
    }

    @Test
    void cancelThroughOneBrokerReachesTheWorkerOnTheOther() {
        String id = a.submit("cross.cancel", "{}");
        try (RawWorker worker = b.connectWorker("on-b-cancel", 1, "cross.cancel")) {
            AssignedJob job = worker.take(1).get(0);
            assertThat(job.getLease().getJobId()).isEqualTo(id);

            a.jobs().cancel(CancelRequest.newBuilder().setId(id).setReason("changed my mind").build());

            BrokerMessage cancel = worker.await(BrokerMessage::hasCancelJob, PROMPTLY);
            assertThat(cancel.getCancelJob().getJobId()).isEqualTo(id);
            assertThat(cancel.getCancelJob().getAttempt()).isEqualTo(1);
            assertThat(worker.complete(job.getLease(), "{}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_CANCELLED);
            assertThat(a.queryString("SELECT state FROM jobs WHERE id = " + id)).isEqualTo("CANCELLED");
            assertThat(a.queryString("SELECT outcome FROM job_attempt_history WHERE job_id = " + id)).isEqualTo("cancelled");
        }
    }

    @Test
    void watchOnOneBrokerSeesChangesMadeThroughTheOther() {
        String id = b.submit("cross.watch", "{}");
        Iterator<WatchEvent> watch = JobServiceGrpc.newBlockingStub(a.channel()).withDeadlineAfter(20, TimeUnit.SECONDS)
                .watch(WatchRequest.newBuilder().addIds(id).build());
        assertThat(watch.next().getJob().getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
        assertThat(watch.next().getCaughtUp()).isTrue();

        try (RawWorker worker = b.connectWorker("on-b-watch", 1, "cross.watch")) {
            AssignedJob job = worker.take(1).get(0);
            Job running = promptly(watch).getJob();
            assertThat(running.getState()).isEqualTo(JobState.JOB_STATE_RUNNING);
            assertThat(running.getWorkerId()).isEqualTo("on-b-watch");

            for (int step = 1; step <= 3; step++) {
                worker.progress(job.getLease(), step * 30f, "part " + step, "");
                Job progressed = promptly(watch).getJob();
                assertThat(progressed.getProgress().getPercent()).isEqualTo(step * 30f);
                assertThat(progressed.getProgress().getMessage()).isEqualTo("part " + step);
            }

            worker.complete(job.getLease(), "{\"pages\":3}");
            Job done = promptly(watch).getJob();
            assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(done.getResult()).isEqualTo("{\"pages\": 3}");
            assertThat(watch.hasNext()).isFalse();
            assertThat(done).isEqualTo(a.jobs().get(GetRequest.newBuilder().setId(id).build()).toBuilder()
                    .clearAttempts().build());
        }
    }

    @Test
    void workerWhoseStreamDropsReconnectsToTheOtherBrokerAndFinishesThere() {
        String id = a.submit("cross.reconnect", "{}");
        RawWorker first = a.connectWorker("roaming", 1, "cross.reconnect");
        AssignedJob job = first.take(1).get(0);
        assertThat(job.getLease().getJobId()).isEqualTo(id);
        first.cancel();

        try (RawWorker again = RawWorker.open(b.workerStub())) {
            Hello hello = RawWorker.hello("roaming", 1, "cross.reconnect").toBuilder().addHeld(job.getLease()).build();
            again.send(WorkerMessage.newBuilder().setHello(hello).build());
            assertThat(again.await(BrokerMessage::hasWelcome).getWelcome().getBrokerId())
                    .isEqualTo(brokerIdOf(b));
            assertThat(again.awaitAck(id, AckAction.ACK_ACTION_HEARTBEAT).getStatus())
                    .isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);

            assertThat(again.complete(job.getLease(), "\"finished on b\"").getStatus())
                    .isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            Job done = a.jobs().get(GetRequest.newBuilder().setId(id).build());
            assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(done.getAttempt()).isEqualTo(1);
            assertThat(done.getResult()).isEqualTo("\"finished on b\"");
            assertThat(done.getAttemptsList()).hasSize(1);
            assertThat(done.getAttempts(0).getWorkerId()).isEqualTo("roaming");
        }
    }

    @Test
    void aFilterWatchOnABrokerWithoutWatchersSeesEveryChangeMadeThroughTheOther() {
        // Fresh brokers: the watching one has had no watch yet, so the other sends only due hints until
        // it hears that this one has watchers. The watch's snapshot waits for that.
        String url = TestPostgres.newDatabase();
        try (BrokerFixture watching = BrokerFixture.start(url, config -> config.pollInterval(Duration.ofSeconds(30)));
             BrokerFixture working = BrokerFixture.start(url, config -> config.pollInterval(Duration.ofSeconds(30)))) {
            Iterator<WatchEvent> watch = JobServiceGrpc.newBlockingStub(watching.channel())
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .watch(WatchRequest.newBuilder().setFilter(io.jobwire.api.v1.WatchFilter.newBuilder()
                            .addTypes("cross.filter")).build());
            assertThat(watch.next().getCaughtUp()).isTrue();

            String id = working.submit("cross.filter", "{}");
            Job queued = promptly(watch).getJob();
            assertThat(queued.getId()).isEqualTo(id);
            assertThat(queued.getState()).isEqualTo(JobState.JOB_STATE_QUEUED);

            try (RawWorker worker = working.connectWorker("filter-worker", 1, "cross.filter")) {
                AssignedJob job = worker.take(1).get(0);
                assertThat(worker.complete(job.getLease(), "{}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
                Job last = promptly(watch).getJob();
                while (last.getState() != JobState.JOB_STATE_SUCCEEDED) {
                    assertThat(last.getState()).isEqualTo(JobState.JOB_STATE_RUNNING);
                    last = promptly(watch).getJob();
                }
                assertThat(last.getId()).isEqualTo(id);
            }
        }
    }

    @Test
    void statsOnEitherBrokerListTheWorkersOfBoth() {
        try (RawWorker onA = a.connectWorker("stats-on-a", 3, "cross.stats");
             RawWorker onB = b.connectWorker("stats-on-b", 4, "cross.stats")) {
            String brokerA = brokerIdOf(a);
            String brokerB = brokerIdOf(b);
            assertThat(brokerA).isNotEqualTo(brokerB);
            for (BrokerFixture broker : new BrokerFixture[] {a, b}) {
                await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() -> {
                    StatsResponse stats = broker.jobs().stats(StatsRequest.newBuilder().setType("cross.stats").build());
                    assertThat(stats.getWorkersList()).extracting(WorkerInfo::getWorkerId)
                            .containsExactlyInAnyOrder("stats-on-a", "stats-on-b");
                    assertThat(stats.getWorkersList()).extracting(w -> w.getWorkerId() + "@" + w.getBrokerId())
                            .containsExactlyInAnyOrder("stats-on-a@" + brokerA, "stats-on-b@" + brokerB);
                    assertThat(stats.getWorkersList()).extracting(WorkerInfo::getMaxConcurrency)
                            .containsExactlyInAnyOrder(3, 4);
                });
            }
            onA.halfClose();
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() ->
                    assertThat(b.jobs().stats(StatsRequest.newBuilder().setType("cross.stats").build())
                            .getWorkersList()).extracting(WorkerInfo::getWorkerId).containsExactly("stats-on-b"));
            onB.halfClose();
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() ->
                    assertThat(a.jobs().stats(StatsRequest.newBuilder().setType("cross.stats").build())
                            .getWorkersList()).isEmpty());
        }
    }

    /** The next event, which must arrive well before the other broker's 5 s watch resync could deliver it. */
    private static WatchEvent promptly(Iterator<WatchEvent> watch) {
        long started = System.nanoTime();
        WatchEvent event = watch.next();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(PROMPTLY);
        return event;
    }

    private static String brokerIdOf(BrokerFixture fixture) {
        return fixture.broker().config().brokerId();
    }
}
