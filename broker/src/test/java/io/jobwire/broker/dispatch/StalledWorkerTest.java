package io.jobwire.broker.dispatch;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.WorkerServiceGrpc;
import io.jobwire.broker.maintenance.Maintenance;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.broker.testing.TestClock;
import io.jobwire.broker.testing.TestPostgres;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A worker that stops reading what the broker sends: what waits for it is bounded (it is given no more
 * jobs once the transport holds what it has not read, however much room it announced), other workers
 * run the rest, and after a minute of reading nothing its stream is ended.
 */
class StalledWorkerTest {
    private static final String TYPE = "stall.job";
    /** Each job's payload: 40 of them are several times any transport window. */
    private static final String PAYLOAD = "{\"pad\": \"" + "x".repeat(200_000) + "\"}";

    private static long count(BrokerFixture fixture, String where) {
        return Long.parseLong(fixture.queryString("SELECT count(*) FROM jobs WHERE type = '" + TYPE + "' AND " + where));
    }

    private static void submit(BrokerFixture fixture, int jobs) {
        for (int i = 0; i < jobs; i++) {
            fixture.submit(JobSpec.newBuilder().setType(TYPE).setPayload(PAYLOAD).build());
        }
    }

    @Test
    void aWorkerThatStopsReadingIsGivenNoMoreJobsAndIsEndedAfterAMinute() throws Exception {
        TestClock clock = new TestClock(Instant.now());
        try (BrokerFixture fixture = BrokerFixture.start(TestPostgres.newDatabase(),
                c -> c.maxPayloadBytes(256 * 1024), clock)) {
            submit(fixture, 40);
            // Its own connection, as a worker process has: a stream that reads nothing also holds up its
            // connection's flow-control window, and with it every other stream on that connection.
            ManagedChannel stalledChannel = NettyChannelBuilder.forAddress("127.0.0.1", fixture.broker().port())
                    .usePlaintext().build();
            RawWorker stalled = RawWorker.connectThenStopReading(WorkerServiceGrpc.newStub(stalledChannel), "stalled",
                    500, TYPE);
            stalled.credit(500);
            // It has room for all of them, and nobody else runs the type: one claim takes them all.
            await().atMost(scaled(Duration.ofSeconds(30)))
                    .until(() -> count(fixture, "state = 'RUNNING' AND worker_id = 'stalled'") == 40);

            // Eight megabytes it has not read wait for it. A worker that reads joins, and more jobs come.
            RawWorker reader = RawWorker.connect(fixture.workerStub(), "reader", 10, TYPE);
            submit(fixture, 60);
            Set<String> ran = new HashSet<>();
            while (ran.size() < 60) {
                List<AssignedJob> jobs = reader.take(Math.min(10, 60 - ran.size()));
                for (AssignedJob job : jobs) {
                    ran.add(job.getLease().getJobId());
                    reader.complete(job.getLease(), "null");
                }
            }
            assertThat(count(fixture, "state = 'RUNNING' AND worker_id = 'stalled'"))
                    .as("jobs given to the worker that stopped reading, though it had room for 500").isEqualTo(40);
            assertThat(count(fixture, "state = 'SUCCEEDED'")).isEqualTo(60);

            clock.advance(Duration.ofSeconds(30));
            fixture.broker().maintenance().runNow(Maintenance.PRESENCE);
            assertThat(fixture.queryString("SELECT count(*) FROM worker_sessions WHERE worker_id = 'stalled'"))
                    .as("after half a minute unread, the stream is still open").isEqualTo("1");

            clock.advance(Duration.ofSeconds(31));
            fixture.broker().maintenance().runNow(Maintenance.PRESENCE);
            assertThat(fixture.queryString("SELECT count(*) FROM worker_sessions WHERE worker_id = 'stalled'"))
                    .as("after a minute unread, the stream is ended").isEqualTo("0");
            assertThat(fixture.queryString("SELECT count(*) FROM worker_sessions WHERE worker_id = 'reader'"))
                    .as("the worker that reads is not").isEqualTo("1");
            reader.close();
            stalled.cancel();
            stalledChannel.shutdownNow();
        }
    }
}
