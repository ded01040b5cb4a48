package io.jobwire.broker.cli;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.broker.auth.Role;
import io.jobwire.broker.auth.TokenStore;
import io.jobwire.broker.cli.ClientCommandsTest.Run;
import io.jobwire.broker.testing.BrokerFixture;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code jobwire ping}: the health check, once or until the broker serves. */
class PingCommandTest {

    private static Run jobwire(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine commandLine = JobwireCommand.commandLine()
                .setOut(new PrintWriter(out, true))
                .setErr(new PrintWriter(err, true));
        int exit = commandLine.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    @Test
    void aServingBrokerAnswersAndNoBrokerIsOneLine() throws Exception {
        int nobody = freePort();
        Run refused = jobwire("ping", "--target", "127.0.0.1:" + nobody);
        assertThat(refused.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(refused.err()).isEqualTo("jobwire ping: UNAVAILABLE: cannot reach a broker at 127.0.0.1:" + nobody + "\n");

        Run waitedInVain = jobwire("ping", "--target", "127.0.0.1:" + nobody, "--wait", "1s");
        assertThat(waitedInVain.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(waitedInVain.err()).startsWith("jobwire ping: UNAVAILABLE: ");

        String tokens = TokenStore.line(TokenStore.newToken(), "ops", List.of(Role.ADMIN), List.of());
        try (BrokerFixture fixture = BrokerFixture.start(c -> c.tokens(tokens))) {
            String target = "127.0.0.1:" + fixture.broker().port();
            Run served = jobwire("ping", "--target", target);
            assertThat(served.exit()).as(served.err()).isZero();
            assertThat(served.out()).as("no token needed").isEqualTo(target + " serves\n");
        }
    }

    @Test
    void withWaitItAsksUntilABrokerStartsOnThatPort() throws Exception {
        int port = freePort();
        CompletableFuture<Run> ping = CompletableFuture.supplyAsync(
                () -> jobwire("ping", "--target", "127.0.0.1:" + port, "--wait", scaled(Duration.ofSeconds(60)).toSeconds() + "s"));
        Thread.sleep(1_000); // it has been refused a few times by now
        assertThat(ping).as("nothing serves there yet").isNotDone();
        try (BrokerFixture fixture = BrokerFixture.start(c -> c.port(port))) {
            Run served = ping.get(scaled(Duration.ofSeconds(90)).toSeconds(), TimeUnit.SECONDS);
            assertThat(served.exit()).as(served.err()).isZero();
            assertThat(served.out()).isEqualTo("127.0.0.1:" + port + " serves\n");
        }
    }
}
