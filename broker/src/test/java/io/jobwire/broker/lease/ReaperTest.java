package io.jobwire.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Duration;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The reaper takes back jobs whose worker went silent, promptly, and never one that finished. */
class ReaperTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    private static String state(BrokerFixture broker, String id) {
        return broker.queryString("SELECT state FROM jobs WHERE id = " + id);
    }

    @Test
    void expiredLeaseIsTakenBackWithinAboutASecondAndRunsAgain() {
        try (BrokerFixture defaults = BrokerFixture.start(c -> c.reaperInterval(java.time.Duration.ofSeconds(1)))) {
            String id = defaults.submit("reap.default", "{}");
            RawWorker silent = defaults.connectWorker("silent-worker", 1, "reap.default");
            silent.take(1);
            long started = System.nanoTime();
            defaults.expireLease(id);
            await().atMost(java.time.Duration.ofSeconds(2)).until(() -> state(defaults, id).equals("QUEUED"));
            assertThat(java.time.Duration.ofNanos(System.nanoTime() - started)).isLessThan(java.time.Duration.ofSeconds(2));
            assertThat(defaults.queryString("SELECT outcome || ': ' || error FROM job_attempt_history WHERE job_id = " + id))
                    .startsWith("lease_expired: ").contains("silent-worker");
            assertThat(defaults.queryLong("SELECT (run_at <= now())::int FROM jobs WHERE id = " + id)).isEqualTo(1);
            RawWorker next = defaults.connectWorker("next-worker", 1, "reap.default");
            AssignedJob again = next.take(1).get(0);
            assertThat(again.getLease().getAttempt()).isEqualTo(2);
        }
    }

    @Test
    void leaseExpiryWithAttemptsSpentFailsTheJob() {
        String id = fixture.submit(JobSpec.newBuilder().setType("reap.spent").setMaxAttempts(1).build());
        fixture.connectWorker("doomed", 1, "reap.spent").take(1);
        fixture.expireLease(id);
        await().atMost(java.time.Duration.ofSeconds(2)).until(() -> state(fixture, id).equals("FAILED"));
        assertThat(fixture.queryString("SELECT last_error FROM jobs WHERE id = " + id)).contains("lease expired");
        assertThat(fixture.queryLong("SELECT (finished_at IS NOT NULL)::int FROM jobs WHERE id = " + id)).isEqualTo(1);
    }

    @Test
    void completionLandingBetweenChoiceAndUpdateWins() {
        try (BrokerFixture quiet = BrokerFixture.start(c -> c.reaperInterval(java.time.Duration.ofHours(1)))) {
            String id = quiet.submit("reap.race", "{}");
            RawWorker racer = quiet.connectWorker("racer", 1, "reap.race");
            AssignedJob job = racer.take(1).get(0);
            quiet.expireLease(id);
            AtomicBoolean hookRan = new AtomicBoolean();
            quiet.broker().reaper().setBetweenChoiceAndUpdate(() -> {
                // The worker's completion commits after the reaper chose the job and before it updates it
                // (its lease made valid again first, as if the worker had been just in time).
                quiet.sql("UPDATE live_jobs SET lease_expires_at = now() + interval '1 minute' WHERE id = " + id);
                assertThat(racer.complete(job.getLease(), "\"won\"").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
                hookRan.set(true);
            });
            assertThat(quiet.broker().reaper().reapAll()).isZero();
            assertThat(hookRan).isTrue();
            assertThat(quiet.queryString("SELECT state || ' ' || result::text FROM jobs WHERE id = " + id))
                    .isEqualTo("SUCCEEDED \"won\"");
        }
    }

    @Test
    void heartbeatsKeepALongJobAlive() throws InterruptedException {
        String id = fixture.submit(JobSpec.newBuilder().setType("reap.long")
                .setLeaseDuration(Duration.newBuilder().setSeconds(1)).build());
        RawWorker worker = fixture.connectWorker("steady", 1, "reap.long");
        AssignedJob job = worker.take(1).get(0);
        String firstDeadline = fixture.queryString("SELECT lease_expires_at::text FROM jobs WHERE id = " + id);
        long until = System.nanoTime() + 2_500_000_000L;
        while (System.nanoTime() < until) {
            assertThat(worker.heartbeat(job.getLease()).getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            Thread.sleep(300);
        }
        assertThat(fixture.queryString("SELECT lease_expires_at::text FROM jobs WHERE id = " + id)).isGreaterThan(firstDeadline);
        assertThat(state(fixture, id)).isEqualTo("RUNNING");
        assertThat(worker.complete(job.getLease(), "\"made it\"").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
    }
}
