package io.jobwire.broker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.Slowness;
import io.jobwire.broker.testing.TestPostgres;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * A broker that fails to start (its port is taken) gives back everything it took before the failure: its
 * threads, its connection pools and its listening connection.
 */
class FailedStartTest {

    private static Set<Thread> jobwireThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(thread -> thread.getName().startsWith("jobwire-") && thread.isAlive())
                .collect(Collectors.toSet());
    }

    private static long connectionsTo(String url) throws SQLException {
        try (Connection connection = DriverManager.getConnection(url);
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT count(*) FROM pg_stat_activity "
                     + "WHERE datname = current_database() AND pid <> pg_backend_pid()")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void aBrokerThatCannotBindLeavesNoThreadPoolOrConnectionBehind() throws Exception {
        String url = TestPostgres.newEmptyDatabase();
        Set<Thread> before = jobwireThreads();
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            BrokerConfig config = BrokerFixture.testConfig().databaseUrl(url).port(taken.getLocalPort()).build();
            assertThatThrownBy(() -> Broker.builder(config).start())
                    .hasMessageContaining("cannot start the broker");
        }
        // It got as far as the database: the schema is there.
        try (Connection connection = DriverManager.getConnection(url);
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery("SELECT to_regclass('live_jobs') IS NOT NULL")) {
            rs.next();
            assertThat(rs.getBoolean(1)).as("the failed start had migrated the database").isTrue();
        }

        long deadline = System.nanoTime() + Slowness.scaled(Duration.ofSeconds(10)).toNanos();
        Set<Thread> left;
        long connections;
        do {
            Thread.sleep(50);
            left = jobwireThreads();
            left.removeAll(before);
            connections = connectionsTo(url);
        } while ((!left.isEmpty() || connections > 0) && System.nanoTime() < deadline);
        assertThat(left).as("threads the failed start left running").isEmpty();
        assertThat(connections).as("connections the failed start left open").isZero();
    }
}
