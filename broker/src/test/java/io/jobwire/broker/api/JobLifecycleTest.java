package io.jobwire.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.AttemptOutcome;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.HoldRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.ReleaseRequest;
import io.jobwire.api.v1.RetryRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Every transition of the job life, checked through the RPC answer and the stored rows. */
class JobLifecycleTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    private static Job get(String id) {
        return fixture.jobs().get(GetRequest.newBuilder().setId(id).build());
    }

    private static String column(String id, String column) {
        return fixture.queryString("SELECT " + column + "::text FROM jobs WHERE id = " + id);
    }

    private static String attemptOutcome(String id, int attempt) {
        return fixture.queryString("SELECT outcome FROM job_attempt_history WHERE job_id = " + id + " AND attempt = " + attempt);
    }

    @Test
    void submitQueuesTheJobWithDefaults() {
        String id = fixture.submit(JobSpec.newBuilder().setType("life.defaults").build());
        Job job = get(id);
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
        assertThat(job.getAttempt()).isZero();
        assertThat(job.getQueue()).isEqualTo("default");
        assertThat(job.getMaxAttempts()).isEqualTo(5);
        assertThat(job.getLeaseDuration().getSeconds()).isEqualTo(30);
        assertThat(job.getPayload()).isEqualTo("{}");
        assertThat(job.getOwner()).isEqualTo("anonymous");
        assertThat(column(id, "state")).isEqualTo("QUEUED");
        assertThat(fixture.queryLong("SELECT count(*) FROM job_attempt_history WHERE job_id = " + id)).isZero();
    }

    @Test
    void claimRunsTheJobUnderAFreshLease() {
        String id = fixture.submit("life.claim", "{\"k\":1}");
        RawWorker worker = fixture.connectWorker("claimer", 1, "life.claim");
        AssignedJob assigned = worker.take(1).get(0);
        assertThat(assigned.getLease().getJobId()).isEqualTo(id);
        assertThat(assigned.getLease().getAttempt()).isEqualTo(1);
        assertThat(assigned.getLease().getLeaseToken()).hasSize(36);
        Job job = get(id);
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_RUNNING);
        assertThat(job.getWorkerId()).isEqualTo("claimer");
        assertThat(column(id, "lease_token")).isEqualTo(assigned.getLease().getLeaseToken());
        long leaseSeconds = fixture.queryLong(
                "SELECT round(extract(epoch FROM lease_expires_at - started_at)) FROM jobs WHERE id = " + id);
        assertThat(leaseSeconds).isEqualTo(30);
        assertThat(job.getAttemptsList()).singleElement().satisfies(attempt -> {
            assertThat(attempt.getOutcome()).isEqualTo(AttemptOutcome.ATTEMPT_OUTCOME_RUNNING);
            assertThat(attempt.getWorkerId()).isEqualTo("claimer");
            assertThat(attempt.hasFinishedAt()).isFalse();
        });
        assertThat(fixture.queryLong("SELECT count(*) FROM job_attempts WHERE job_id = " + id))
                .as("a running attempt is read from its job").isZero();
    }

    @Test
    void anAttemptRowAnOlderBrokerWroteAtClaimIsNotShownTwice() {
        String id = fixture.submit("life.legacy", "{}");
        RawWorker worker = fixture.connectWorker("legacy", 1, "life.legacy");
        AssignedJob assigned = worker.take(1).get(0);
        fixture.sql("INSERT INTO job_attempts (job_id, attempt, worker_id) VALUES (" + id + ", 1, 'legacy')");
        assertThat(get(id).getAttemptsList()).extracting(a -> a.getOutcome())
                .containsExactly(AttemptOutcome.ATTEMPT_OUTCOME_RUNNING);
        assertThat(worker.complete(assigned.getLease(), "1").getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        assertThat(get(id).getAttemptsList()).extracting(a -> a.getOutcome())
                .containsExactly(AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
        assertThat(get(id).getAttempts(0).hasFinishedAt()).isTrue();
    }

    @Test
    void completeSucceedsAndStoresTheResult() {
        String id = fixture.submit("life.complete", "{}");
        RawWorker worker = fixture.connectWorker("completer", 1, "life.complete");
        AssignedJob assigned = worker.take(1).get(0);
        assertThat(worker.complete(assigned.getLease(), "{\"total\": 3}").getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        Job job = get(id);
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        assertThat(job.getResult()).isEqualTo("{\"total\": 3}");
        assertThat(job.hasFinishedAt()).isTrue();
        assertThat(job.getLeaseExpiresAt().getSeconds()).isZero();
        assertThat(attemptOutcome(id, 1)).isEqualTo("succeeded");
        assertThat(job.getAttemptsList()).extracting(a -> a.getOutcome()).containsExactly(AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
        assertThat(job.getAttempts(0).getWorkerId()).isEqualTo("completer");
        assertThat(job.getAttempts(0).getFinishedAt()).isEqualTo(job.getFinishedAt());
        assertThat(job.getWorkerId()).as("a job shows a worker only while one holds it").isEmpty();
        assertThat(fixture.queryLong("SELECT count(*) FROM job_attempts WHERE job_id = " + id))
                .as("a successful attempt is read from its job, which never runs again").isZero();
    }

    @Test
    void retryableFailureQueuesTheJobAgainLater() {
        String id = fixture.submit("life.retry", "{}");
        RawWorker worker = fixture.connectWorker("flaky", 1, "life.retry");
        AssignedJob assigned = worker.take(1).get(0);
        assertThat(worker.fail(assigned.getLease(), "timeout talking to smtp", true).getStatus())
                .isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        Job job = get(id);
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
        assertThat(job.getLastError()).isEqualTo("timeout talking to smtp");
        assertThat(fixture.queryLong("SELECT errors FROM jobs WHERE id = " + id)).isEqualTo(1);
        assertThat(fixture.queryLong("SELECT (run_at > now())::int FROM jobs WHERE id = " + id)).isEqualTo(1);
        assertThat(attemptOutcome(id, 1)).isEqualTo("failed");
        assertThat(job.hasFinishedAt()).isFalse();
    }

    @Test
    void nonRetryableFailureFailsAtOnce() {
        String id = fixture.submit("life.permanent", "{}");
        RawWorker worker = fixture.connectWorker("strict", 1, "life.permanent");
        AssignedJob assigned = worker.take(1).get(0);
        assertThat(worker.fail(assigned.getLease(), "bad address", false).getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        Job job = get(id);
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        assertThat(job.getAttempt()).isEqualTo(1);
        assertThat(job.hasFinishedAt()).isTrue();
    }

    @Test
    void retryableFailureWithAttemptsSpentFails() {
        String id = fixture.submit(JobSpec.newBuilder().setType("life.spent").setMaxAttempts(2)
                .setRetryPolicy(io.jobwire.api.v1.RetryPolicy.newBuilder()
                        .setInitialDelay(com.google.protobuf.Duration.getDefaultInstance()))
                .build());
        RawWorker worker = fixture.connectWorker("spender", 1, "life.spent");
        worker.fail(worker.take(1).get(0).getLease(), "first", true);
        assertThat(get(id).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
        AssignedJob second = worker.take(1).get(0);
        assertThat(second.getLease().getAttempt()).isEqualTo(2);
        assertThat(worker.fail(second.getLease(), "second", true).getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        assertThat(get(id).getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        assertThat(get(id).getAttemptsList()).hasSize(2);
    }

    @Test
    void releaseQueuesAgainWithoutSpendingAnAttempt() {
        String id = fixture.submit(JobSpec.newBuilder().setType("life.release").setMaxAttempts(1).build());
        RawWorker worker = fixture.connectWorker("releaser", 1, "life.release");
        for (int i = 1; i <= 3; i++) {
            AssignedJob assigned = worker.take(1).get(0);
            assertThat(assigned.getLease().getAttempt()).isEqualTo(i);
            assertThat(worker.release(assigned.getLease()).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
            assertThat(attemptOutcome(id, i)).isEqualTo("released");
        }
        assertThat(get(id).getReleases()).isEqualTo(3);
        AssignedJob last = worker.take(1).get(0);
        assertThat(worker.fail(last.getLease(), "real failure", true).getState())
                .as("the only counted attempt is spent now").isEqualTo(JobState.JOB_STATE_FAILED);
    }

    @Test
    void cancelStopsQueuedHeldAndRunningJobs() {
        String queued = fixture.submit("life.cancel", "{}");
        assertThat(cancel(queued).getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);

        String held = fixture.submit("life.cancel.held", "{}");
        fixture.jobs().hold(HoldRequest.newBuilder().setId(held).build());
        assertThat(cancel(held).getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);

        String running = fixture.submit("life.cancel.running", "{}");
        RawWorker worker = fixture.connectWorker("cancelled-worker", 1, "life.cancel.running");
        AssignedJob assigned = worker.take(1).get(0);
        assertThat(cancel(running).getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
        BrokerMessage notice = worker.await(BrokerMessage::hasCancelJob);
        assertThat(notice.getCancelJob().getJobId()).isEqualTo(running);
        assertThat(worker.complete(assigned.getLease(), "{}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_CANCELLED);
        assertThat(column(running, "state")).isEqualTo("CANCELLED");
        assertThat(column(running, "result")).isNull();
        assertThat(attemptOutcome(running, 1)).isEqualTo("cancelled");
    }

    private static Job cancel(String id) {
        return fixture.jobs().cancel(CancelRequest.newBuilder().setId(id).build());
    }

    @Test
    void heldJobIsNeverAssignedUntilReleased() {
        String id = fixture.submit("life.hold", "{}");
        assertThat(fixture.jobs().hold(HoldRequest.newBuilder().setId(id).build()).getState())
                .isEqualTo(JobState.JOB_STATE_HELD);
        RawWorker worker = fixture.connectWorker("patient", 1, "life.hold");
        worker.credit(1);
        assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(1500))).isFalse();
        assertThat(fixture.jobs().release(ReleaseRequest.newBuilder().setId(id).build()).getState())
                .isEqualTo(JobState.JOB_STATE_QUEUED);
        assertThat(worker.awaitJobs(1).get(0).getLease().getJobId()).isEqualTo(id);
    }

    @Test
    void retryQueuesFailedCancelledAndHeldJobsWithAFreshBudget() {
        String failed = fixture.submit(JobSpec.newBuilder().setType("life.retry.failed").setMaxAttempts(1).build());
        RawWorker worker = fixture.connectWorker("retrier", 1, "life.retry.failed");
        worker.fail(worker.take(1).get(0).getLease(), "boom", false);
        Job retried = fixture.jobs().retry(RetryRequest.newBuilder().setId(failed).build());
        assertThat(retried.getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
        assertThat(retried.hasFinishedAt()).isFalse();
        AssignedJob again = worker.take(1).get(0);
        assertThat(again.getLease().getAttempt()).isEqualTo(2);
        assertThat(worker.fail(again.getLease(), "boom again", true).getState())
                .as("a fresh budget of one attempt, spent again").isEqualTo(JobState.JOB_STATE_FAILED);

        String cancelled = fixture.submit("life.retry.cancelled", "{}");
        cancel(cancelled);
        assertThat(fixture.jobs().retry(RetryRequest.newBuilder().setId(cancelled).build()).getState())
                .isEqualTo(JobState.JOB_STATE_QUEUED);

        String held = fixture.submit("life.retry.held", "{}");
        fixture.jobs().hold(HoldRequest.newBuilder().setId(held).build());
        assertThat(fixture.jobs().retry(RetryRequest.newBuilder().setId(held).build()).getState())
                .isEqualTo(JobState.JOB_STATE_QUEUED);
    }

    @Test
    void wrongStateTransitionsAreRefusedAndChangeNothing() {
        String done = fixture.submit("life.wrong", "{}");
        RawWorker worker = fixture.connectWorker("finisher", 1, "life.wrong");
        worker.complete(worker.take(1).get(0).getLease(), "1");
        String version = column(done, "version");

        assertRefused(() -> cancel(done), "SUCCEEDED");
        assertRefused(() -> fixture.jobs().retry(RetryRequest.newBuilder().setId(done).build()), "SUCCEEDED");
        assertRefused(() -> fixture.jobs().hold(HoldRequest.newBuilder().setId(done).build()), "SUCCEEDED");
        String queued = fixture.submit("life.wrong.queued", "{}");
        assertRefused(() -> fixture.jobs().retry(RetryRequest.newBuilder().setId(queued).build()), "QUEUED");
        assertRefused(() -> fixture.jobs().release(ReleaseRequest.newBuilder().setId(queued).build()), "QUEUED");

        assertThat(column(done, "version")).isEqualTo(version);
        assertThat(column(done, "state")).isEqualTo("SUCCEEDED");
        assertThat(column(queued, "state")).isEqualTo("QUEUED");
    }

    @Test
    void unknownIdsAreNotFound() {
        for (Runnable call : new Runnable[] {
                () -> get("424242"), () -> cancel("424242"),
                () -> fixture.jobs().retry(RetryRequest.newBuilder().setId("424242").build()),
                () -> fixture.jobs().hold(HoldRequest.newBuilder().setId("424242").build()),
                () -> fixture.jobs().release(ReleaseRequest.newBuilder().setId("424242").build())}) {
            assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                assertThat(e.getStatus().getDescription()).contains("424242");
            });
        }
    }

    @Test
    void getReturnsTheAttemptHistoryInOrder() {
        String id = fixture.submit(JobSpec.newBuilder().setType("life.history")
                .setRetryPolicy(io.jobwire.api.v1.RetryPolicy.newBuilder()
                        .setInitialDelay(com.google.protobuf.Duration.getDefaultInstance()))
                .build());
        RawWorker worker = fixture.connectWorker("historian", 1, "life.history");
        worker.fail(worker.take(1).get(0).getLease(), "one", true);
        worker.release(worker.take(1).get(0).getLease());
        worker.complete(worker.take(1).get(0).getLease(), "3");
        Job job = get(id);
        assertThat(job.getAttemptsList()).extracting(a -> a.getAttempt()).containsExactly(1, 2, 3);
        assertThat(job.getAttemptsList()).extracting(a -> a.getOutcome()).containsExactly(
                AttemptOutcome.ATTEMPT_OUTCOME_FAILED, AttemptOutcome.ATTEMPT_OUTCOME_RELEASED,
                AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
        assertThat(job.getAttempts(0).getError()).isEqualTo("one");
        assertThat(job.getAttemptsList()).allSatisfy(a -> assertThat(a.getWorkerId()).isEqualTo("historian"));
    }

    private static void assertRefused(Runnable call, String state) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(e.getStatus().getDescription()).contains(state);
        });
    }
}
