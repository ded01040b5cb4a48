package io.jobwire.broker.db;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.ListJobTypesRequest;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A database outage gives UNAVAILABLE, never INTERNAL, and the broker recovers by itself. */
class DatabaseOutageTest {
    @TempDir
    Path dataDir;

    private EmbeddedPostgres startPostgres(int port) throws IOException {
        return EmbeddedPostgres.builder().setDataDirectory(dataDir).setCleanDataDirectory(false).setPort(port).start();
    }

    @Test
    void brokerAnswersUnavailableWhileTheDatabaseIsDownAndRecovers() throws Exception {
        int port = freePort();
        EmbeddedPostgres postgres = startPostgres(port);
        String url = postgres.getJdbcUrl("postgres", "postgres");
        try (BrokerFixture fixture = BrokerFixture.start(url, c -> c)) {
            String done = fixture.submit("outage.job", "{}");
            RawWorker worker = fixture.connectWorker("survivor", 2, "outage.job");
            worker.complete(worker.take(1).get(0).getLease(), "\"before\"");
            String running = fixture.submit("outage.job", "{}");
            AssignedJob inFlight = worker.take(1).get(0);

            postgres.close();

            var jobs = fixture.jobs().withDeadlineAfter(20, TimeUnit.SECONDS);
            assertUnavailable(() -> jobs.submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder().setType("outage.job")).build()));
            assertUnavailable(() -> jobs.get(GetRequest.newBuilder().setId(done).build()));
            assertUnavailable(() -> jobs.list(ListRequest.getDefaultInstance()));
            assertUnavailable(() -> jobs.stats(StatsRequest.getDefaultInstance()));
            assertThat(worker.complete(inFlight.getLease(), "\"during\"").getStatus()).isEqualTo(AckStatus.ACK_STATUS_UNAVAILABLE);

            postgres = startPostgres(port);

            await().atMost(scaled(Duration.ofSeconds(30))).ignoreExceptions().until(() -> fixture.submit("outage.job", "{}") != null);
            assertThat(fixture.jobs().get(GetRequest.newBuilder().setId(done).build()).getResult()).isEqualTo("\"before\"");
            assertThat(worker.complete(inFlight.getLease(), "\"after\"").getStatus())
                    .as("the same stream finishes its job once the database is back").isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            assertThat(fixture.queryString("SELECT result::text FROM jobs WHERE id = " + running)).isEqualTo("\"after\"");
            RawWorker fresh = fixture.connectWorker("newcomer", 1, "outage.job");
            assertThat(fresh.complete(fresh.take(1).get(0).getLease(), "1").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        } finally {
            postgres.close();
        }
    }

    @Test
    void terminatedConnectionsAreReplaced() throws Exception {
        try (BrokerFixture fixture = BrokerFixture.start()) {
            fixture.submit("outage.kill", "{}");
            try (Connection admin = DriverManager.getConnection(fixture.jdbcUrl()); Statement sql = admin.createStatement()) {
                sql.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        + "WHERE datname = current_database() AND pid <> pg_backend_pid()");
            }
            for (int i = 0; i < 5; i++) {
                try {
                    fixture.submit("outage.kill", "{}");
                } catch (StatusRuntimeException e) {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
                }
            }
            await().atMost(scaled(Duration.ofSeconds(10))).ignoreExceptions().until(() -> fixture.submit("outage.kill", "{}") != null);
            // Reads and the worker registry use the other pool: its dead connections are replaced the same way
            // (each answers one call with UNAVAILABLE), so read until that pool works again too.
            await().atMost(scaled(Duration.ofSeconds(10))).ignoreExceptions()
                    .until(() -> fixture.jobs().listJobTypes(ListJobTypesRequest.getDefaultInstance()) != null);
            RawWorker worker = fixture.connectWorker("after-kill", 1, "outage.kill");
            assertThat(worker.complete(worker.take(1).get(0).getLease(), "1").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        }
    }

    private static void assertUnavailable(Runnable call) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(Status.Code.UNAVAILABLE));
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
