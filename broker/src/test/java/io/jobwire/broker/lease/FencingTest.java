package io.jobwire.broker.lease;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Every worker write is fenced by (attempt, lease token, RUNNING, lease not expired) inside the UPDATE. */
class FencingTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    private static String row(String id) {
        return fixture.queryString("SELECT state || '|' || coalesce(result::text, '') || '|' || version || '|'"
                + " || coalesce(progress_message, '') FROM jobs WHERE id = " + id);
    }

    @Test
    void staleWorkerCannotWriteAfterItsJobWasClaimedAgain() {
        String id = fixture.submit("fence.stale", "{}");
        RawWorker first = fixture.connectWorker("first", 1, "fence.stale");
        AssignedJob stale = first.take(1).get(0);
        fixture.expireLease(id);
        fixture.broker().reaper().reapAll();
        RawWorker second = fixture.connectWorker("second", 1, "fence.stale");
        AssignedJob fresh = second.take(1).get(0);
        assertThat(fresh.getLease().getAttempt()).isEqualTo(2);
        String before = row(id);

        assertThat(first.complete(stale.getLease(), "\"stale\"").getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        assertThat(first.fail(stale.getLease(), "stale", false).getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        assertThat(first.progress(stale.getLease(), 50, "stale progress", "").getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        assertThat(first.heartbeat(stale.getLease()).getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        assertThat(first.release(stale.getLease()).getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        assertThat(row(id)).as("nothing changed").isEqualTo(before);

        assertThat(second.complete(fresh.getLease(), "\"fresh\"").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        assertThat(fixture.queryString("SELECT result::text FROM jobs WHERE id = " + id)).isEqualTo("\"fresh\"");
    }

    @Test
    void wrongTokenOrAttemptIsRefused() {
        String id = fixture.submit("fence.token", "{}");
        RawWorker worker = fixture.connectWorker("tokens", 1, "fence.token");
        LeaseRef lease = worker.take(1).get(0).getLease();
        LeaseRef wrongToken = lease.toBuilder().setLeaseToken(UUID.randomUUID().toString()).build();
        LeaseRef wrongAttempt = lease.toBuilder().setAttempt(2).build();
        var refusal = worker.complete(wrongToken, "1");
        assertThat(refusal.getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        assertThat(refusal.getMessage()).contains("token");
        assertThat(worker.complete(wrongAttempt, "1").getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        assertThat(fixture.queryString("SELECT state FROM jobs WHERE id = " + id)).isEqualTo("RUNNING");
        assertThat(worker.complete(lease, "1").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
    }

    @Test
    void expiredLeaseIsLostEvenBeforeTheReaperRuns() {
        try (BrokerFixture slowReaper = BrokerFixture.start(c -> c.reaperInterval(java.time.Duration.ofHours(1)))) {
            String id = slowReaper.submit("fence.expired", "{}");
            RawWorker worker = slowReaper.connectWorker("late", 1, "fence.expired");
            LeaseRef lease = worker.take(1).get(0).getLease();
            slowReaper.expireLease(id);
            var ack = worker.complete(lease, "\"late\"");
            assertThat(ack.getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
            assertThat(ack.getMessage()).contains("expired");
            assertThat(slowReaper.queryString("SELECT state FROM jobs WHERE id = " + id)).isEqualTo("RUNNING");
            assertThat(slowReaper.queryString("SELECT result::text FROM jobs WHERE id = " + id)).isNull();
        }
    }

    @Test
    void aJobHasExactlyOneAcceptedFinish() {
        String id = fixture.submit("fence.once", "{}");
        RawWorker worker = fixture.connectWorker("twice", 1, "fence.once");
        LeaseRef lease = worker.take(1).get(0).getLease();
        assertThat(worker.complete(lease, "\"first\"").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        assertThat(worker.complete(lease, "\"second\"").getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        assertThat(worker.fail(lease, "after the fact", true).getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
        assertThat(fixture.queryString("SELECT state || ' ' || result::text FROM jobs WHERE id = " + id))
                .isEqualTo("SUCCEEDED \"first\"");
        assertThat(fixture.queryLong("SELECT count(*) FROM job_attempt_history WHERE job_id = " + id + " AND outcome = 'succeeded'"))
                .isEqualTo(1);
    }
}
