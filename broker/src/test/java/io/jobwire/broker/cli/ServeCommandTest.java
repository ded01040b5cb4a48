package io.jobwire.broker.cli;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.WorkerServiceGrpc;
import io.jobwire.broker.testing.RawWorker;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jobwire serve} as a real process: starts on a bare data dir, drains on SIGTERM, survives SIGKILL. */
class ServeCommandTest {
    @TempDir
    Path dataDir;

    @Test
    void sigtermDrainsWorkersAndStopsTheEmbeddedDatabase() throws Exception {
        int port = freePort();
        Process broker = serve(port);
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        try {
            String id = awaitSubmit(channel);
            RawWorker worker = RawWorker.connect(WorkerServiceGrpc.newStub(channel), "w", 1, "report");

            broker.destroy(); // SIGTERM

            worker.await(BrokerMessage::hasDrain);
            assertThat(broker.waitFor(30, TimeUnit.SECONDS)).as("broker exited").isTrue();
            assertThat(broker.exitValue()).isZero();
            assertThat(dataDir.resolve("postgres/postmaster.pid")).as("PostgreSQL stopped cleanly").doesNotExist();

            Process again = serve(port);
            try {
                String state = await().atMost(scaled(Duration.ofSeconds(60))).ignoreExceptions()
                        .until(() -> JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS)
                                .get(GetRequest.newBuilder().setId(id).build()).getState().name(), s -> true);
                assertThat(state).as("the job survived the restart").isEqualTo(JobState.JOB_STATE_QUEUED.name());
            } finally {
                again.destroy();
                again.waitFor(30, TimeUnit.SECONDS);
            }
        } finally {
            channel.shutdownNow();
            broker.destroyForcibly();
        }
    }

    @Test
    void restartsAfterSigkillLeftItsDatabaseRunning() throws Exception {
        int port = freePort();
        Process broker = serve(port);
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        try {
            String id = awaitSubmit(channel);
            broker.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // SIGKILL: the embedded PostgreSQL is orphaned
            assertThat(dataDir.resolve("postgres/postmaster.pid")).exists();

            Process again = serve(port);
            try {
                JobState state = await().atMost(scaled(Duration.ofSeconds(60))).ignoreExceptions()
                        .until(() -> JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS)
                                .get(GetRequest.newBuilder().setId(id).build()).getState(), s -> true);
                assertThat(state).isEqualTo(JobState.JOB_STATE_QUEUED);
            } finally {
                again.destroy();
                assertThat(again.waitFor(30, TimeUnit.SECONDS)).isTrue();
            }
        } finally {
            channel.shutdownNow();
            broker.destroyForcibly();
        }
    }

    @Test
    void aFlagOrFileThatIsWrongIsOneLineAndExit64() throws Exception {
        for (List<String> args : List.of(
                List.of("--tokens-file", dataDir.resolve("no-such-tokens.txt").toString()),
                List.of("--tls-cert", dataDir.resolve("cert.pem").toString()),
                List.of("--host", "0.0.0.0"),
                List.of("--database-url", "mysql://nope"))) {
            StringWriter err = new StringWriter();
            int exit = JobwireCommand.commandLine().setErr(new PrintWriter(err, true))
                    .execute(java.util.stream.Stream.concat(java.util.stream.Stream.of("serve", "--port", "0", "--data-dir",
                            dataDir.toString()), args.stream()).toArray(String[]::new));
            assertThat(exit).as(args + ": " + err).isEqualTo(ExitCodes.USAGE);
            assertThat(err.toString()).as(args.toString()).startsWith("jobwire serve: ").hasLineCount(1)
                    .doesNotContain("Exception");
        }
    }

    private static String awaitSubmit(ManagedChannel channel) {
        return await().atMost(scaled(Duration.ofSeconds(60))).ignoreExceptions()
                .until(() -> JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.SECONDS)
                        .submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder().setType("report")).build())
                        .getJob().getId(), id -> !id.isEmpty());
    }

    private Process serve(int port) throws IOException {
        List<String> command = io.jobwire.broker.testing.JobwireJvm.command(List.of("serve", "--port", Integer.toString(port),
                "--data-dir", dataDir.toString(), "--drain-timeout", "3s"));
        File log = dataDir.resolveSibling(dataDir.getFileName() + "-broker.log").toFile();
        Files.createDirectories(dataDir);
        return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log)).start();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
