package io.jobwire.broker.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.broker.Broker;
import io.jobwire.broker.BrokerConfig;
import io.jobwire.broker.testing.BrokerFixture;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The default mode: the broker runs its own PostgreSQL in its data directory. */
class EmbeddedBrokerTest {
    @TempDir
    Path dataDir;

    private BrokerConfig config() {
        return BrokerFixture.testConfig().databaseUrl(null).dataDir(dataDir).build();
    }

    private static String submit(Broker broker) {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", broker.port()).usePlaintext().build();
        try {
            return JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder().setType("embedded.job")).build())
                    .getJob().getId();
        } finally {
            channel.shutdownNow();
        }
    }

    private static String type(Broker broker, String id) {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", broker.port()).usePlaintext().build();
        try {
            return JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .get(GetRequest.newBuilder().setId(id).build()).getType();
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void jobsSurviveARestartOnTheSameDataDirectory() {
        String id;
        try (Broker first = Broker.builder(config()).start()) {
            id = submit(first);
        }
        assertThat(dataDir.resolve("postgres/postmaster.pid")).as("the database stopped with the broker").doesNotExist();
        try (Broker second = Broker.builder(config()).start()) {
            assertThat(type(second, id)).isEqualTo("embedded.job");
        }
    }

    @Test
    void theEmbeddedDatabaseCommitsDurably() throws Exception {
        try (EmbeddedPostgresServer server = EmbeddedPostgresServer.start(dataDir);
             Connection connection = DriverManager.getConnection(server.jdbcUrl());
             Statement statement = connection.createStatement()) {
            for (String setting : new String[] {"synchronous_commit", "fsync", "full_page_writes"}) {
                ResultSet rs = statement.executeQuery("SHOW " + setting);
                rs.next();
                assertThat(rs.getString(1)).as(setting).isEqualTo("on");
            }
        }
    }

    @Test
    void aStartThatCannotBindStopsItsDatabase() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            BrokerConfig onTakenPort = BrokerFixture.testConfig().databaseUrl(null).dataDir(dataDir)
                    .port(taken.getLocalPort()).build();
            assertThatThrownBy(() -> Broker.builder(onTakenPort).start()).hasMessageContaining("cannot start the broker");
        }
        assertThat(dataDir.resolve("postgres/postmaster.pid")).as("the database stopped with the failed start").doesNotExist();
    }

    @Test
    void aDataDirectoryInUseIsRefused() {
        try (Broker running = Broker.builder(config()).start()) {
            assertThat(running.port()).isPositive();
            assertThatThrownBy(() -> Broker.builder(config()).start())
                    .hasMessageContaining("in use by another running broker");
        }
    }
}
