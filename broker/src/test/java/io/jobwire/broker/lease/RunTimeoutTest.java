package io.jobwire.broker.lease;

import static io.jobwire.broker.testing.Calls.codeOf;
import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Duration;
import io.grpc.Status;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.AttemptOutcome;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.CancelJob;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.JobTypeDefaults;
import io.jobwire.api.v1.JobTypeRegistration;
import io.jobwire.api.v1.RegisterJobTypeRequest;
import io.jobwire.api.v1.RetryPolicy;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.worker.JobType;
import io.jobwire.worker.Worker;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Run timeouts: an attempt that heartbeats past its run timeout is stopped (CancelJob with timed_out, on
 * whichever broker holds its stream), its lease ends there, and it fails retryably as TIMED_OUT with the
 * job's backoff; the SDK interrupts the handler. The timeout comes from the job or its type's default.
 */
class RunTimeoutTest {
    private static final java.time.Duration WAIT = scaled(java.time.Duration.ofSeconds(20));

    @RegisterExtension
    @Order(1)
    static final BrokerFixture a = BrokerFixture.perClass();
    @RegisterExtension
    @Order(2)
    static final BrokerFixture b = BrokerFixture.perClassBeside(a, c -> c.reaperInterval(java.time.Duration.ofHours(1)));

    private static Duration seconds(long s) {
        return Duration.newBuilder().setSeconds(s).build();
    }

    private static Job get(String id) {
        return a.jobs().get(GetRequest.newBuilder().setId(id).build());
    }

    @Test
    void anAttemptHeartbeatingPastItsRunTimeoutIsStoppedAndFailsRetryablyAsTimedOut() {
        String id = a.submit(JobSpec.newBuilder().setType("timeout.heartbeats").setRunTimeout(seconds(1))
                .setLeaseDuration(seconds(30)).setMaxAttempts(3)
                .setRetryPolicy(RetryPolicy.newBuilder().setInitialDelay(seconds(600))).build());
        try (RawWorker worker = b.connectWorker("timeout-heartbeats", 1, "timeout.heartbeats")) {
            AssignedJob job = worker.take(1).get(0);
            assertThat(job.getRunTimeout()).isEqualTo(seconds(1));
            Job running = get(id);
            assertThat(running.getRunTimeout()).isEqualTo(seconds(1));
            // the lease is capped at the run timeout, not the 30 s lease duration
            assertThat(job.getLeaseExpiresAt().getSeconds() - running.getAttempts(0).getStartedAt().getSeconds())
                    .isBetween(0L, 1L);

            // no heartbeat is due yet (its lease is 30 s): the broker's CancelJob is what stops the worker
            CancelJob stop = worker.await(BrokerMessage::hasCancelJob, WAIT).getCancelJob();
            assertThat(stop.getJobId()).isEqualTo(id);
            assertThat(stop.getAttempt()).isEqualTo(1);
            assertThat(stop.getTimedOut()).isTrue();
            assertThat(stop.getReason()).contains("run timeout");
            io.jobwire.api.v1.Ack late = worker.heartbeat(job.getLease());
            assertThat(late.getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
            assertThat(late.getMessage()).isEqualTo("job " + id + " ran past its run timeout of 1s in attempt 1: stop it");
            assertThat(worker.complete(job.getLease(), "{}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        }
        Job after = get(id);
        assertThat(after.getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
        assertThat(after.getRunAt().getSeconds() - after.getAttempts(0).getFinishedAt().getSeconds())
                .as("queued again after the job's backoff (600 s, jitter at least half)").isGreaterThanOrEqualTo(299L);
        assertThat(after.getAttempts(0).getOutcome()).isEqualTo(AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT);
        assertThat(after.getAttempts(0).getError()).isEqualTo("timed out: the attempt ran past its run timeout of 1s");
        assertThat(after.getLastError()).isEqualTo("timed out: the attempt ran past its run timeout of 1s");
    }

    @Test
    void theLastAttemptTimingOutFailsTheJobAndAJobWithoutTimeoutRunsOnWhileItHeartbeats() {
        String timed = a.submit(JobSpec.newBuilder().setType("timeout.last").setRunTimeout(seconds(1)).setMaxAttempts(1).build());
        String free = a.submit(JobSpec.newBuilder().setType("timeout.last").setLeaseDuration(seconds(2)).setMaxAttempts(1).build());
        try (RawWorker worker = a.connectWorker("timeout-last", 2, "timeout.last")) {
            List<AssignedJob> jobs = worker.take(2);
            AssignedJob timedJob = jobs.stream().filter(j -> j.getLease().getJobId().equals(timed)).findFirst().orElseThrow();
            AssignedJob freeJob = jobs.stream().filter(j -> j.getLease().getJobId().equals(free)).findFirst().orElseThrow();
            assertThat(freeJob.hasRunTimeout()).isFalse();
            // heartbeats every 100 ms: past the run timeout the heartbeat itself says stop
            long deadline = System.nanoTime() + WAIT.toNanos();
            io.jobwire.api.v1.Ack ack = worker.heartbeat(timedJob.getLease());
            while (ack.getStatus() == AckStatus.ACK_STATUS_ACCEPTED && System.nanoTime() < deadline) {
                assertThat(worker.heartbeat(freeJob.getLease()).getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
                sleep(100);
                ack = worker.heartbeat(timedJob.getLease());
            }
            assertThat(ack.getMessage()).isEqualTo("job " + timed + " ran past its run timeout of 1s in attempt 1: stop it");
            await().atMost(WAIT).until(() -> get(timed).getState() == JobState.JOB_STATE_FAILED);
            Job failed = get(timed);
            assertThat(failed.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
            assertThat(failed.getAttempts(0).getOutcome()).isEqualTo(AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT);
            // the job without a run timeout ran past a second on its 2 s lease, heartbeats kept it
            assertThat(worker.complete(freeJob.getLease(), "{}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            assertThat(get(free).getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        }
    }

    @Test
    void theSdkInterruptsTheHandlerAndTheJobFailsOnceEveryAttemptTimedOut() {
        List<Boolean> interrupted = new CopyOnWriteArrayList<>();
        String id = a.submit(JobSpec.newBuilder().setType("timeout.sdk").setRunTimeout(seconds(1)).setMaxAttempts(2)
                .setRetryPolicy(RetryPolicy.newBuilder().setInitialDelay(seconds(0)).setMaxDelay(seconds(0))).build());
        try (Worker worker = Worker.builder().target("127.0.0.1:" + b.broker().port()).concurrency(1)
                .handle(JobType.of("timeout.sdk"), job -> {
                    try {
                        Thread.sleep(WAIT.toMillis() * 2);
                        interrupted.add(false);
                    } catch (InterruptedException e) {
                        interrupted.add(job.isCancelled());
                        throw e;
                    }
                    return "{}";
                }).start()) {
            await().atMost(WAIT.multipliedBy(2)).until(() -> get(id).getState() == JobState.JOB_STATE_FAILED);
            await().atMost(WAIT).until(() -> interrupted.size() == 2);
        }
        assertThat(interrupted).containsExactly(true, true);
        assertThat(get(id).getAttemptsList()).extracting(io.jobwire.api.v1.Attempt::getOutcome)
                .containsExactly(AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT, AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT);
    }

    @Test
    void aTypesDefaultRunTimeoutAppliesWhereTheJobSetsNone() {
        a.jobs().registerJobType(RegisterJobTypeRequest.newBuilder().setRegistration(JobTypeRegistration.newBuilder()
                .setName("timeout.typed").setDefaults(JobTypeDefaults.newBuilder().setRunTimeout(seconds(90)))).build());
        assertThat(a.jobs().getJobType(io.jobwire.api.v1.GetJobTypeRequest.newBuilder().setName("timeout.typed").build())
                .getRegistration().getDefaults().getRunTimeout()).isEqualTo(seconds(90));
        String byType = a.submit(JobSpec.newBuilder().setType("timeout.typed").build());
        String own = a.submit(JobSpec.newBuilder().setType("timeout.typed").setRunTimeout(seconds(5)).build());
        assertThat(get(byType).getRunTimeout()).isEqualTo(seconds(90));
        assertThat(get(own).getRunTimeout()).isEqualTo(seconds(5));
        assertThat(get(a.submit("timeout.untyped", "{}")).hasRunTimeout()).isFalse();
    }

    @Test
    void runTimeoutsOutsideOneSecondToADayAreRefused() {
        long before = a.queryLong("SELECT count(*) FROM jobs");
        for (Duration bad : List.of(Duration.newBuilder().setNanos(500_000_000).build(), seconds(0), seconds(25 * 3600),
                seconds(-5))) {
            Status.Code code = codeOf(() -> a.jobs().submit(SubmitRequest.newBuilder()
                    .setJob(JobSpec.newBuilder().setType("timeout.bad").setRunTimeout(bad)).build()));
            assertThat(code).as(bad.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        }
        assertThat(io.jobwire.broker.testing.Calls.messageOf(() -> a.jobs().submit(SubmitRequest.newBuilder()
                .setJob(JobSpec.newBuilder().setType("timeout.bad").setRunTimeout(seconds(0))).build())))
                .isEqualTo("job.run_timeout: must be between 1s and 24h, got 0s");
        assertThat(a.queryLong("SELECT count(*) FROM jobs")).isEqualTo(before);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
