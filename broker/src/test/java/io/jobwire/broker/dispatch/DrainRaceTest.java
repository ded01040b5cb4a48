package io.jobwire.broker.dispatch;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A claim that commits after the broker told the stream to drain must not be sent on that stream: the
 * worker has moved on, and the job would sit leased to nobody until its lease ran out.
 */
class DrainRaceTest {

    @Test
    void aClaimThatLandsAfterTheDrainGoesBackToTheQueue() throws Exception {
        BrokerFixture fixture = BrokerFixture.start(config -> config.drainTimeout(Duration.ofSeconds(10)));
        try {
            String id = fixture.submit("drain.race", "{}");
            RawWorker worker = fixture.connectWorker("racer", 1, "drain.race");
            CompletableFuture<Void> closing;
            try (Connection blocker = DriverManager.getConnection(fixture.jdbcUrl());
                 Statement sql = blocker.createStatement()) {
                blocker.setAutoCommit(false);
                sql.execute("LOCK TABLE live_jobs IN SHARE MODE"); // the claim's UPDATE waits for this
                worker.credit(1);
                await().atMost(scaled(Duration.ofSeconds(10))).until(() -> fixture.queryLong(
                        "SELECT count(*) FROM pg_locks WHERE relation = 'live_jobs'::regclass AND NOT granted") > 0);
                closing = CompletableFuture.runAsync(fixture.broker()::close);
                worker.await(BrokerMessage::hasDrain);
                blocker.rollback(); // the claim now commits, after the Drain went out
            }
            await().atMost(scaled(Duration.ofSeconds(10)))
                    .until(() -> "QUEUED".equals(fixture.queryString("SELECT state FROM jobs WHERE id = " + id)));
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(300)))
                    .as("no Assign after the Drain").isFalse();
            assertThat(fixture.queryLong("SELECT count(*) FROM job_attempt_history WHERE job_id = " + id
                    + " AND outcome = 'lease_expired'")).isZero();
            worker.halfClose();
            closing.get(20, TimeUnit.SECONDS);
        } finally {
            fixture.close();
        }
    }
}
