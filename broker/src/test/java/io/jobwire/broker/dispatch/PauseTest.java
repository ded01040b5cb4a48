package io.jobwire.broker.dispatch;

import static io.jobwire.broker.testing.Calls.codeOf;
import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.ListPausedRequest;
import io.jobwire.api.v1.PauseRequest;
import io.jobwire.api.v1.Paused;
import io.jobwire.api.v1.ResumeRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.OpsAndShop;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.broker.testing.TestPostgres;
import io.jobwire.client.JobwireClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Pausing queues and types: a pause made through one broker holds on the other (the claim statement reads
 * it), both on the dispatcher's claims and on a submit's own claim for a waiting worker; a resume starts
 * the jobs at once (the brokers poll every 30 s, so promptly means notified). Admins only; bad input
 * changes nothing.
 */
class PauseTest {
    private static final Duration PROMPTLY = scaled(Duration.ofSeconds(3));
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

    @AfterEach
    void resumeAll() {
        a.sql("DELETE FROM pauses");
    }

    private static String submit(String type, String queue) {
        return a.submit(JobSpec.newBuilder().setType(type).setQueue(queue).build());
    }

    private static AssignedJob nextAssigned(RawWorker worker) {
        return worker.await(BrokerMessage::hasAssign, PROMPTLY).getAssign().getJobs(0);
    }

    private static JobState stateOf(String id) {
        return a.jobs().get(GetRequest.newBuilder().setId(id).build()).getState();
    }

    @Test
    void aPausedQueueIsClaimedByNoBrokerUntilResumed() {
        Paused paused = a.jobs().pause(PauseRequest.newBuilder().setQueue("flow-slow").setReason("supplier down").build());
        assertThat(paused.getQueue()).isEqualTo("flow-slow");
        assertThat(paused.getReason()).isEqualTo("supplier down");
        try (RawWorker worker = b.connectWorker("pause-queue", 2, "flow.queue")) {
            worker.credit(2);
            String held = submit("flow.queue", "flow-slow"); // older: claimed first, were it not paused
            String other = submit("flow.queue", "flow-fast");
            AssignedJob first = nextAssigned(worker);
            assertThat(first.getLease().getJobId()).as("the paused queue's older job is passed over").isEqualTo(other);
            worker.complete(first.getLease(), "{}");
            assertThat(stateOf(other)).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(stateOf(held)).isEqualTo(JobState.JOB_STATE_QUEUED);
            await("the ring's pass parks the paused queue's entry").atMost(PROMPTLY)
                    .until(() -> a.queryLong("SELECT count(*) FROM ready_parked WHERE job_id = " + held) == 1);
            assertThat(a.queryLong("SELECT count(*) FROM job_ready WHERE job_id = " + held)).isZero();

            assertThat(a.jobs().resume(ResumeRequest.newBuilder().setQueue("flow-slow").build()).getWasPaused()).isTrue();
            AssignedJob resumed = nextAssigned(worker);
            assertThat(resumed.getLease().getJobId()).isEqualTo(held);
            worker.complete(resumed.getLease(), "{}");
            assertThat(stateOf(held)).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        }
    }

    @Test
    void aPausedTypeIsClaimedByNoBrokerUntilResumed() {
        b.jobs().pause(PauseRequest.newBuilder().setType("flow.paused").build());
        try (RawWorker worker = a.connectWorker("pause-type", 2, "flow.paused", "flow.running")) {
            worker.credit(2);
            String held = submit("flow.paused", "default");
            String other = submit("flow.running", "default");
            AssignedJob first = nextAssigned(worker);
            assertThat(first.getLease().getJobId()).isEqualTo(other);
            worker.complete(first.getLease(), "{}");
            assertThat(stateOf(held)).isEqualTo(JobState.JOB_STATE_QUEUED);
            await("the ring's pass parks the paused type's entry").atMost(PROMPTLY)
                    .until(() -> a.queryLong("SELECT count(*) FROM ready_parked WHERE job_id = " + held) == 1);

            assertThat(b.jobs().resume(ResumeRequest.newBuilder().setType("flow.paused").build()).getWasPaused()).isTrue();
            assertThat(nextAssigned(worker).getLease().getJobId()).isEqualTo(held);
        }
    }

    @Test
    void pausingTwiceKeepsTheFirstPauseAndResumingTwiceSaysItWasNotPaused() throws Exception {
        Paused first = a.jobs().pause(PauseRequest.newBuilder().setQueue("flow-twice").setReason("first").build());
        Thread.sleep(5);
        Paused again = b.jobs().pause(PauseRequest.newBuilder().setQueue("flow-twice").setReason("second").build());
        assertThat(again).isEqualTo(first);
        a.jobs().pause(PauseRequest.newBuilder().setType("flow-twice").build()); // a type of the same name is another pause
        List<Paused> listed = b.jobs().listPaused(ListPausedRequest.getDefaultInstance()).getPausedList();
        assertThat(listed).extracting(p -> p.hasQueue() ? "queue " + p.getQueue() : "type " + p.getType())
                .containsExactly("queue flow-twice", "type flow-twice");
        assertThat(a.jobs().resume(ResumeRequest.newBuilder().setQueue("flow-twice").build()).getWasPaused()).isTrue();
        assertThat(a.jobs().resume(ResumeRequest.newBuilder().setQueue("flow-twice").build()).getWasPaused()).isFalse();
        assertThat(a.jobs().listPaused(ListPausedRequest.getDefaultInstance()).getPausedList())
                .extracting(Paused::getType).containsExactly("flow-twice");
    }

    @Test
    void badPausesAreRefusedAndChangeNothing() {
        assertThat(codeOf(() -> a.jobs().pause(PauseRequest.getDefaultInstance()))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(codeOf(() -> a.jobs().pause(PauseRequest.newBuilder().setQueue("no spaces").build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(codeOf(() -> a.jobs().pause(PauseRequest.newBuilder().setType("t").setReason("x".repeat(1025)).build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(codeOf(() -> a.jobs().resume(ResumeRequest.getDefaultInstance()))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(a.jobs().listPaused(ListPausedRequest.getDefaultInstance()).getPausedList()).isEmpty();
    }

    @Test
    void onlyAnAdminPausesOrResumes() {
        try (OpsAndShop secured = OpsAndShop.start(a.jdbcUrl())) {
            JobwireClient asShop = secured.asShop();
            JobwireClient asOps = secured.asOps();
            assertThat(codeOf(() -> asShop.pauseQueue("flow-shop", "mine"))).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(asShop.paused()).isEmpty();
            asOps.pauseQueue("flow-shop", "ops says so");
            assertThat(codeOf(() -> asShop.resumeQueue("flow-shop"))).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(asShop.paused()).extracting(Paused::getQueue, Paused::getPausedBy, Paused::getReason)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple("flow-shop", "ops", "ops says so"));
            assertThat(asOps.resumeQueue("flow-shop")).isTrue();
        }
    }
}
