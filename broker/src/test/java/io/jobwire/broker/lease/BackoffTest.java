package io.jobwire.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.Fail;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.RetryPolicy;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Retries back off exponentially (jitter fixed at 1.0 by the fixture), and no job runs before run_at. */
class BackoffTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    /** The delay the broker chose for the last retry: run_at minus the time of the failure. */
    private static long backoffMillis(String id) {
        return fixture.queryLong("SELECT round(extract(epoch FROM run_at - updated_at) * 1000) FROM jobs WHERE id = " + id);
    }

    /** Makes a queued retry due now, so the test need not wait out the backoff. */
    private static void dueNow(String id) {
        fixture.setRunAt(id, "now()");
    }

    @Test
    void perJobPolicyDoublesUpToItsMaximum() {
        String id = fixture.submit(JobSpec.newBuilder().setType("backoff.policy").setMaxAttempts(5)
                .setRetryPolicy(RetryPolicy.newBuilder().setInitialDelay(seconds(2)).setMaxDelay(seconds(5)))
                .build());
        RawWorker worker = fixture.connectWorker("backoff", 1, "backoff.policy");
        long[] expected = {2000, 4000, 5000, 5000};
        for (long delay : expected) {
            worker.fail(worker.take(1).get(0).getLease(), "again", true);
            assertThat(backoffMillis(id)).isCloseTo(delay, within(200L));
            dueNow(id);
        }
    }

    @Test
    void brokerDefaultsApplyWithoutAPolicy() {
        String id = fixture.submit("backoff.defaults", "{}");
        RawWorker worker = fixture.connectWorker("defaults", 1, "backoff.defaults");
        worker.fail(worker.take(1).get(0).getLease(), "first", true);
        assertThat(backoffMillis(id)).isCloseTo(1000, within(200L));
        dueNow(id);
        worker.fail(worker.take(1).get(0).getLease(), "second", true);
        assertThat(backoffMillis(id)).isCloseTo(2000, within(200L));
    }

    @Test
    void workersRetryDelayOverridesTheBackoff() {
        String id = fixture.submit("backoff.override", "{}");
        RawWorker worker = fixture.connectWorker("override", 1, "backoff.override");
        AssignedJob job = worker.take(1).get(0);
        worker.fail(Fail.newBuilder().setLease(job.getLease()).setError("rate limited").setRetryable(true)
                .setRetryDelay(seconds(42)).build());
        assertThat(backoffMillis(id)).isCloseTo(42_000, within(200L));
    }

    @Test
    void delayedJobIsNotPushedBeforeItsRunAt() {
        RawWorker worker = fixture.connectWorker("eager", 2, "backoff.delayed");
        worker.credit(2);
        String delayed = fixture.submit(JobSpec.newBuilder().setType("backoff.delayed")
                .setDelay(Duration.newBuilder().setNanos(900_000_000)).build());
        Instant runAt = Instant.now().plusSeconds(2);
        String scheduled = fixture.submit(JobSpec.newBuilder().setType("backoff.delayed")
                .setRunAt(Timestamp.newBuilder().setSeconds(runAt.getEpochSecond()).setNanos(runAt.getNano())).build());
        assertThat(worker.receives(BrokerMessage::hasAssign, java.time.Duration.ofMillis(600))).isFalse();
        AssignedJob first = worker.awaitJobs(1).get(0);
        assertThat(first.getLease().getJobId()).isEqualTo(delayed);
        AssignedJob second = worker.awaitJobs(1).get(0);
        assertThat(second.getLease().getJobId()).isEqualTo(scheduled);
        for (String id : new String[] {delayed, scheduled}) {
            assertThat(fixture.queryLong("SELECT (started_at >= run_at)::int FROM jobs WHERE id = " + id))
                    .as("job %s started no earlier than its run_at", id).isEqualTo(1);
        }
    }

    private static Duration seconds(long seconds) {
        return Duration.newBuilder().setSeconds(seconds).build();
    }
}
