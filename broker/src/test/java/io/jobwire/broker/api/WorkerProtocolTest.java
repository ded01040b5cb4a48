package io.jobwire.broker.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.jobwire.api.v1.Ack;
import io.jobwire.api.v1.AckAction;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.Complete;
import io.jobwire.api.v1.Credit;
import io.jobwire.api.v1.Fail;
import io.jobwire.api.v1.Outcomes;
import io.jobwire.api.v1.ReleaseJob;
import io.jobwire.api.v1.Hello;
import io.jobwire.api.v1.JobTypeSpec;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Misuse of the worker stream is answered for that message; the stream and the other jobs carry on. */
class WorkerProtocolTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    private static WorkerMessage hello(UnaryOperator<Hello.Builder> change) {
        return WorkerMessage.newBuilder().setHello(change.apply(RawWorker.hello("proto", 2, "proto.job").toBuilder())).build();
    }

    private static Status openWith(WorkerMessage first) {
        RawWorker worker = RawWorker.open(fixture.workerStub());
        worker.send(first);
        return worker.awaitClosed();
    }

    @Test
    void firstMessageMustBeHello() {
        Status status = openWith(WorkerMessage.newBuilder().setCredit(Credit.newBuilder().setJobs(1)).build());
        assertThat(status.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(status.getDescription()).contains("Hello");
    }

    @Test
    void invalidHelloEndsTheStreamNamingTheField() {
        assertThat(openWith(hello(h -> h.clearJobTypes()))).satisfies(s -> {
            assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(s.getDescription()).contains("hello.job_types");
        });
        assertThat(openWith(hello(h -> h.addJobTypes(JobTypeSpec.newBuilder().setName("bad name")))).getDescription())
                .contains("hello.job_types[1].name");
        assertThat(openWith(hello(h -> h.setMaxConcurrency(0))).getDescription()).contains("hello.max_concurrency");
        assertThat(openWith(hello(h -> h.setMaxConcurrency(10_001))).getDescription()).contains("hello.max_concurrency");
        assertThat(openWith(hello(h -> h.addJobTypes(JobTypeSpec.newBuilder().setName("proto.job")))).getDescription())
                .contains("named twice");
        assertThat(openWith(hello(h -> h.setWorkerId(""))).getDescription()).contains("hello.worker_id");
        assertThat(openWith(hello(h -> h.addJobTypes(JobTypeSpec.newBuilder().setName("x").setPayloadSchema("[]"))))
                .getDescription()).contains("payload_schema");
    }

    @Test
    void mistakesAreAnsweredPerMessageAndTheStreamCarriesOn() {
        String queuedId = fixture.submit("proto.other", "{}");
        String heldId = fixture.submit("proto.carry", "{}");
        RawWorker worker = fixture.connectWorker("carry-on", 2, "proto.carry");
        LeaseRef held = worker.take(1).get(0).getLease();
        assertThat(held.getJobId()).isEqualTo(heldId);

        worker.send(WorkerMessage.newBuilder().setHello(RawWorker.hello("again", 1, "proto.carry")).build());
        assertThat(worker.await(BrokerMessage::hasError).getError().getCode()).isEqualTo("FAILED_PRECONDITION");
        worker.send(WorkerMessage.newBuilder().setCredit(Credit.newBuilder().setJobs(0)).build());
        assertThat(worker.await(BrokerMessage::hasError).getError().getMessage()).contains("credit.jobs");
        worker.send(WorkerMessage.getDefaultInstance());
        assertThat(worker.await(BrokerMessage::hasError).getError().getCode()).isEqualTo("INVALID_ARGUMENT");

        LeaseRef neverClaimed = LeaseRef.newBuilder().setJobId(queuedId).setAttempt(1)
                .setLeaseToken(UUID.randomUUID().toString()).build();
        assertThat(worker.complete(neverClaimed, "{}").getStatus()).as("finish before claim").isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        assertThat(fixture.queryString("SELECT state FROM jobs WHERE id = " + queuedId)).isEqualTo("QUEUED");

        Ack badId = worker.complete(LeaseRef.newBuilder().setJobId("x").setAttempt(1).setLeaseToken(held.getLeaseToken()).build(), "{}");
        assertThat(badId.getStatus()).isEqualTo(AckStatus.ACK_STATUS_INVALID);
        assertThat(badId.getMessage()).contains("complete.lease.job_id");
        Ack badAttempt = worker.heartbeat(held.toBuilder().setAttempt(0).build());
        assertThat(badAttempt.getStatus()).isEqualTo(AckStatus.ACK_STATUS_INVALID);
        assertThat(badAttempt.getMessage()).contains("attempt");
        Ack badToken = worker.heartbeat(held.toBuilder().setLeaseToken("nope").build());
        assertThat(badToken.getStatus()).isEqualTo(AckStatus.ACK_STATUS_INVALID);
        assertThat(badToken.getMessage()).contains("lease_token");
        Ack badPercent = worker.progress(held, 101, "too far", "");
        assertThat(badPercent.getStatus()).isEqualTo(AckStatus.ACK_STATUS_INVALID);
        assertThat(badPercent.getMessage()).contains("progress.percent");
        Ack badDetails = worker.progress(held, 10, "ok", "{not json");
        assertThat(badDetails.getStatus()).isEqualTo(AckStatus.ACK_STATUS_INVALID);
        Ack badResult = worker.complete(held, "{\"unterminated\":");
        assertThat(badResult.getStatus()).isEqualTo(AckStatus.ACK_STATUS_INVALID);
        assertThat(badResult.getMessage()).contains("complete.result");
        assertThat(fixture.queryString("SELECT state FROM jobs WHERE id = " + heldId)).isEqualTo("RUNNING");

        assertThat(worker.heartbeat(held).getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        assertThat(worker.complete(held, "{\"fine\":true}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        assertThat(worker.progress(held, 50, "after finish", "").getStatus())
                .as("progress after finish").isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        assertThat(worker.isClosed()).isFalse();
    }

    @Test
    void failMessagesAreStoredEvenWithUnstorableCharacters() {
        String id = fixture.submit("proto.nul", "{}");
        RawWorker worker = fixture.connectWorker("nul", 1, "proto.nul");
        LeaseRef lease = worker.take(1).get(0).getLease();
        assertThat(worker.fail(lease, "stderr had a \u0000 in it", false).getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        assertThat(fixture.queryString("SELECT last_error FROM jobs WHERE id = " + id)).isEqualTo("stderr had a \uFFFD in it");
    }

    @Test
    void droppedStreamKeepsItsLeasesForAReconnect() {
        String id = fixture.submit("proto.reconnect", "{}");
        RawWorker first = fixture.connectWorker("phoenix", 1, "proto.reconnect");
        LeaseRef lease = first.take(1).get(0).getLease();
        first.cancel();
        assertThat(fixture.queryString("SELECT state FROM jobs WHERE id = " + id)).isEqualTo("RUNNING");

        RawWorker again = RawWorker.open(fixture.workerStub());
        again.send(WorkerMessage.newBuilder().setHello(RawWorker.hello("phoenix", 1, "proto.reconnect").toBuilder()
                .addHeld(lease)).build());
        again.await(BrokerMessage::hasWelcome);
        Ack adopted = again.awaitAck(id, AckAction.ACK_ACTION_HEARTBEAT);
        assertThat(adopted.getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        assertThat(adopted.hasLeaseExpiresAt()).isTrue();
        assertThat(again.complete(lease, "\"finished after reconnect\"").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        again.close();
    }

    @Test
    void goodbyeReleasesListedJobsAtOnceAndTakesNoMore() {
        String first = fixture.submit("proto.goodbye", "{}");
        RawWorker worker = fixture.connectWorker("leaver", 2, "proto.goodbye");
        LeaseRef lease = worker.take(1).get(0).getLease();
        worker.goodbye(lease);
        assertThat(worker.awaitAck(first, AckAction.ACK_ACTION_RELEASE).getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        assertThat(fixture.queryString("SELECT state FROM jobs WHERE id = " + first)).isEqualTo("QUEUED");
        assertThat(fixture.queryString("SELECT outcome FROM job_attempt_history WHERE job_id = " + first)).isEqualTo("released");
        worker.credit(2);
        assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(800))).isFalse();
    }

    @Test
    void neverMoreJobsThanConcurrencyAllows() {
        for (int i = 0; i < 5; i++) {
            fixture.submit("proto.limit", "{}");
        }
        RawWorker worker = fixture.connectWorker("limited", 2, "proto.limit");
        worker.credit(5);
        List<AssignedJob> first = worker.awaitJobs(2);
        assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(800))).isFalse();
        worker.complete(first.get(0).getLease(), "1");
        assertThat(worker.awaitJobs(1)).hasSize(1);
        assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(500))).isFalse();
    }

    @Test
    void perTypeConcurrencyIsRespected() {
        for (int i = 0; i < 3; i++) {
            fixture.submit("proto.narrow", "{}");
        }
        RawWorker worker = RawWorker.open(fixture.workerStub());
        worker.send(WorkerMessage.newBuilder().setHello(Hello.newBuilder().setWorkerId("narrow").setMaxConcurrency(5)
                .addJobTypes(JobTypeSpec.newBuilder().setName("proto.narrow").setMaxConcurrency(1))).build());
        worker.await(BrokerMessage::hasWelcome);
        worker.credit(5);
        AssignedJob only = worker.awaitJobs(1).get(0);
        assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(800))).isFalse();
        worker.send(WorkerMessage.newBuilder().setComplete(Complete.newBuilder().setLease(only.getLease()).setResult("1")).build());
        assertThat(worker.awaitJobs(1)).hasSize(1);
        worker.close();
    }

    @Test
    void outcomesAreAppliedTogetherAndAnsweredInOneAcksInOrder() {
        for (int i = 0; i < 3; i++) {
            fixture.submit("proto.outcomes", "{}");
        }
        RawWorker worker = RawWorker.open(fixture.workerStub());
        worker.send(WorkerMessage.newBuilder().setHello(RawWorker.hello("outcomes", 3, "proto.outcomes").toBuilder()
                .setBatchAcks(true)).build());
        worker.await(BrokerMessage::hasWelcome);
        List<AssignedJob> jobs = worker.take(3);
        LeaseRef forged = jobs.get(0).getLease().toBuilder().setLeaseToken(UUID.randomUUID().toString()).build();
        worker.send(WorkerMessage.newBuilder().setOutcomes(Outcomes.newBuilder()
                .addComplete(Complete.newBuilder().setLease(jobs.get(0).getLease()).setResult("{\"n\":1}"))
                .addComplete(Complete.newBuilder().setLease(forged))
                .addComplete(Complete.newBuilder().setLease(jobs.get(1).getLease()).setResult("{not json"))
                .addFail(Fail.newBuilder().setLease(jobs.get(1).getLease()).setError("boom").setRetryable(false))
                .addRelease(ReleaseJob.newBuilder().setLease(jobs.get(2).getLease())))
                .build());
        List<Ack> acks = worker.await(BrokerMessage::hasAcks).getAcks().getAcksList();
        assertThat(acks).extracting(Ack::getAction).containsExactly(AckAction.ACK_ACTION_COMPLETE,
                AckAction.ACK_ACTION_COMPLETE, AckAction.ACK_ACTION_COMPLETE, AckAction.ACK_ACTION_FAIL,
                AckAction.ACK_ACTION_RELEASE);
        assertThat(acks).extracting(Ack::getJobId).containsExactly(jobs.get(1).getLease().getJobId(),
                jobs.get(0).getLease().getJobId(), jobs.get(0).getLease().getJobId(),
                jobs.get(1).getLease().getJobId(), jobs.get(2).getLease().getJobId());
        assertThat(acks.get(0).getStatus()).isEqualTo(AckStatus.ACK_STATUS_INVALID);
        assertThat(acks.get(0).getMessage()).contains("outcomes.complete[2].result");
        assertThat(acks).extracting(Ack::getStatus).containsExactly(AckStatus.ACK_STATUS_INVALID,
                AckStatus.ACK_STATUS_ACCEPTED, AckStatus.ACK_STATUS_LEASE_LOST, AckStatus.ACK_STATUS_ACCEPTED,
                AckStatus.ACK_STATUS_ACCEPTED);
        assertThat(fixture.queryString("SELECT string_agg(state, ',' ORDER BY id) FROM jobs WHERE type = 'proto.outcomes'"))
                .isEqualTo("SUCCEEDED,FAILED,QUEUED");
        worker.close();
    }

    @Test
    void aWorkerThatDidNotAskForBatchesGetsOneAckPerMessage() {
        fixture.submit("proto.single-acks", "{}");
        fixture.submit("proto.single-acks", "{}");
        RawWorker worker = fixture.connectWorker("single-acks", 2, "proto.single-acks");
        List<AssignedJob> jobs = worker.take(2);
        worker.send(WorkerMessage.newBuilder().setOutcomes(Outcomes.newBuilder()
                .addComplete(Complete.newBuilder().setLease(jobs.get(0).getLease()))
                .addComplete(Complete.newBuilder().setLease(jobs.get(1).getLease())))
                .build());
        for (AssignedJob job : jobs) {
            assertThat(worker.awaitAck(job.getLease().getJobId(), AckAction.ACK_ACTION_COMPLETE).getStatus())
                    .isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        }
        assertThat(worker.receives(BrokerMessage::hasAcks, Duration.ofMillis(200))).isFalse();
        worker.close();
    }

    @Test
    void aProgressReportSentBeforeTheCompletionIsAppliedBeforeIt() throws Exception {
        String slowId = fixture.submit("proto.order", "{}");
        String jobId = fixture.submit("proto.order", "{}");
        RawWorker worker = fixture.connectWorker("in-order", 2, "proto.order");
        List<AssignedJob> jobs = worker.take(2);
        LeaseRef slow = jobs.stream().filter(j -> j.getLease().getJobId().equals(slowId)).findFirst().orElseThrow().getLease();
        LeaseRef lease = jobs.stream().filter(j -> j.getLease().getJobId().equals(jobId)).findFirst().orElseThrow().getLease();
        try (java.sql.Connection blocker = java.sql.DriverManager.getConnection(fixture.jdbcUrl());
             java.sql.Statement statement = blocker.createStatement()) {
            // The progress commits are held up behind one row: the first report waits for its lock, the
            // next waits for that commit. Completions go through a commit of their own.
            blocker.setAutoCommit(false);
            statement.execute("SELECT 1 FROM live_jobs WHERE id = " + slowId + " FOR UPDATE");
            worker.send(WorkerMessage.newBuilder().setProgress(io.jobwire.api.v1.ProgressUpdate.newBuilder()
                    .setLease(slow).setPercent(10)).build());
            org.awaitility.Awaitility.await().atMost(io.jobwire.broker.testing.Slowness.scaled(Duration.ofSeconds(30)))
                    .until(() -> fixture.queryString("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            + "AND wait_event_type = 'Lock'").equals("1"));
            worker.send(WorkerMessage.newBuilder().setProgress(io.jobwire.api.v1.ProgressUpdate.newBuilder()
                    .setLease(lease).setPercent(90).setMessage("nearly").setDetails("{\"step\": 9}")).build());
            worker.send(WorkerMessage.newBuilder().setComplete(Complete.newBuilder().setLease(lease).setResult("{}")).build());
            assertThat(worker.receives(m -> m.hasAck() && m.getAck().getJobId().equals(jobId)
                    && m.getAck().getAction() == AckAction.ACK_ACTION_COMPLETE, Duration.ofMillis(500)))
                    .as("the completion waits for the progress report sent before it").isFalse();
            blocker.commit();
        }
        assertThat(worker.awaitAck(jobId, AckAction.ACK_ACTION_PROGRESS).getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        assertThat(worker.awaitAck(jobId, AckAction.ACK_ACTION_COMPLETE).getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        assertThat(fixture.queryString("SELECT state || ' ' || progress_percent || ' ' || progress_details::text FROM jobs WHERE id = "
                + jobId)).isEqualTo("SUCCEEDED 90 {\"step\": 9}");
        worker.complete(slow, "{}");
        worker.close();
    }
}
