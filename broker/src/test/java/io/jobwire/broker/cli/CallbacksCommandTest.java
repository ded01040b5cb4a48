package io.jobwire.broker.cli;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.jobwire.api.v1.CallbackDeliveryState;
import io.jobwire.broker.cli.ClientCommandsTest.Run;
import io.jobwire.broker.testing.BrokerFixture;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code submit --callback}, {@code callbacks}, {@code callbacks secret [--rotate]}, {@code callbacks redeliver}. */
class CallbacksCommandTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass(c -> c
            .callbackAllow(List.of("127.0.0.0/8")).callbackAllowHttp(true)
            .callbackRetryInitial(Duration.ofMillis(100)).callbackPollInterval(Duration.ofMillis(50)));

    private static Run jobwire(String... args) {
        return ClientCommandsTest.jobwire(fixture, args);
    }

    @Test
    void submitWithACallbackListItsDeliveriesRedeliverAndRotateTheSecret() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            exchange.sendResponseHeaders(calls.incrementAndGet() == 1 ? 404 : 204, -1);
            exchange.close();
        });
        receiver.start();
        try {
            String url = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
            Run submit = jobwire("submit", "--type", "cli.callback", "--callback", url, "-q");
            assertThat(submit.exit()).as(submit.err()).isZero();
            String id = submit.out().strip();
            assertThat(jobwire("cancel", id).exit()).isZero();
            await().atMost(scaled(Duration.ofSeconds(30))).until(() -> fixture.client().get(id).getCallbacksList().stream()
                    .anyMatch(d -> d.getState() == CallbackDeliveryState.CALLBACK_DELIVERY_STATE_FAILED));

            Run failing = jobwire("callbacks", "--failing");
            assertThat(failing.exit()).as(failing.err()).isZero();
            assertThat(failing.out()).containsPattern("\\d+ +" + id + " +job\\.cancelled +failed +1 +HTTP 404 +- +" + url);
            String delivery = failing.out().lines().skip(1).findFirst().orElseThrow().split(" +")[0];
            assertThat(jobwire("get", id).out()).contains("\"callbacks\"").contains("\"httpStatus\" : 404");

            Run redeliver = jobwire("callbacks", "redeliver", delivery);
            assertThat(redeliver.out().strip()).isEqualTo("callback delivery " + delivery + " (job.cancelled of job " + id
                    + ") is pending again");
            await().atMost(scaled(Duration.ofSeconds(30))).until(() -> jobwire("callbacks", "--job", id).out()
                    .contains("delivered"));
            assertThat(jobwire("callbacks", "--failing").out().lines().count()).isEqualTo(1); // the header only

            String secret = jobwire("callbacks", "secret").out().strip();
            assertThat(secret).startsWith("whsec_");
            assertThat(jobwire("callbacks", "secret").out().strip()).isEqualTo(secret);
            Run rotated = jobwire("callbacks", "secret", "--rotate");
            assertThat(rotated.out().strip()).startsWith("whsec_").isNotEqualTo(secret);
            assertThat(rotated.err()).contains("the previous secret signs too until");

            Run refused = jobwire("submit", "--type", "cli.callback", "--callback", "https://10.0.0.1/hook");
            assertThat(refused.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
            assertThat(refused.err().strip()).startsWith("jobwire submit: INVALID_ARGUMENT: job.callback.url: goes to "
                    + "10.0.0.1, a private address").doesNotContain("\n");
            Run badEvents = jobwire("submit", "--type", "cli.callback", "--callback", url, "--callback-events", "some");
            assertThat(badEvents.exit()).isEqualTo(ExitCodes.USAGE);
        } finally {
            receiver.stop(0);
        }
    }
}
