package io.jobwire.broker.reliability;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.broker.reliability.Processes.BrokerProcess;
import io.jobwire.broker.reliability.Processes.WorkerProcess;
import io.jobwire.client.JobwireClient;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PostgreSQL restarted and its connections killed under load: calls in flight fail with UNAVAILABLE (the
 * producer retries those with the same idempotency keys, and any other status would fail the test), and
 * the broker recovers without a restart.
 */
@Tag("fault")
class DatabaseFaultTest {
    @TempDir
    Path dir;

    private EmbeddedPostgres postgres(int port) throws java.io.IOException {
        return EmbeddedPostgres.builder().setDataDirectory(dir.resolve("pg")).setCleanDataDirectory(false)
                .setPort(port).start();
    }

    @Test
    void postgresRestartAndKilledConnectionsMidRunLoseNothing() throws Exception {
        int pgPort = Processes.freePort();
        EmbeddedPostgres postgres = postgres(pgPort);
        String db = postgres.getJdbcUrl("postgres", "postgres");
        int port = Processes.freePort();
        Path executions = dir.resolve("executions.log");
        Path script = Oracle.script(dir, "quick.sh", executions, "while read -r _; do :; done\necho '\"ok\"'\n");
        Oracle oracle = new Oracle(db, "fault.database");
        try (BrokerProcess broker = new BrokerProcess(port, db, dir.resolve("broker.log")).start();
             WorkerProcess worker = new WorkerProcess("w", "127.0.0.1:" + port, "fault.database", script, 16,
                     dir.resolve("w.log")).start();
             JobwireClient client = JobwireClient.builder().target("127.0.0.1:" + port).deadline(Duration.ofSeconds(8)).build()) {
            CompletableFuture<Void> producing = CompletableFuture.runAsync(() -> oracle.submit(client, 600, 100, i -> "{}"));
            await().atMost(scaled(Duration.ofSeconds(60))).ignoreExceptions()
                    .until(() -> oracle.count("SELECT count(*) FROM jobs WHERE state = 'SUCCEEDED'") > 150);

            postgres.close();
            Oracle.sleep(2000);
            postgres = postgres(pgPort);

            await().atMost(scaled(Duration.ofSeconds(60))).ignoreExceptions()
                    .until(() -> oracle.count("SELECT count(*) FROM jobs WHERE state = 'SUCCEEDED'") > 380);
            try (Connection admin = DriverManager.getConnection(db); Statement sql = admin.createStatement()) {
                sql.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        + "WHERE datname = current_database() AND pid <> pg_backend_pid()");
            }

            producing.get();
            await().atMost(scaled(Duration.ofSeconds(120))).pollInterval(Duration.ofMillis(250)).ignoreExceptions().until(oracle::drained);
            assertThat(oracle.acknowledgedIds()).hasSize(600);
            assertThat(broker.isAlive()).as("the same broker process recovered by itself").isTrue();
            oracle.check(List.of(executions), Set.of(), client);
        } finally {
            postgres.close();
        }
    }
}
