package io.jobwire.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.jobwire.broker.auth.Role;
import io.jobwire.broker.auth.TokenStore;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.worker.Worker;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A worker the broker refuses for good stops with the broker's reason instead of reconnecting for ever. */
class WorkerRefusalTest {
    private static final String MAILER = TokenStore.newToken();
    private static final String SHOP = TokenStore.newToken();
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass(config -> config.tokens(String.join("\n",
                TokenStore.line(MAILER, "mailer", List.of(Role.WORK), List.of("email.*")),
                TokenStore.line(SHOP, "shop", List.of(Role.SUBMIT), List.of()))));

    private static Worker worker(String token, String type) {
        return Worker.builder().target("127.0.0.1:" + fixture.broker().port()).token(token).handle(type, job -> "ok").start();
    }

    private static Status.Code stoppedWith(Worker worker) {
        try (worker) {
            assertThatThrownBy(() -> worker.whenStopped().get(60, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(JobwireException.class);
            try {
                worker.whenStopped().join();
                throw new AssertionError("unreachable");
            } catch (CompletionException e) {
                return ((JobwireException) e.getCause()).code();
            }
        }
    }

    @Test
    void anUnknownTokenStopsTheWorker() {
        assertThat(stoppedWith(worker("jw_not-a-real-token", "email.send"))).isEqualTo(Status.Code.UNAUTHENTICATED);
    }

    @Test
    void aTokenThatMayNotRunTheTypeStopsTheWorker() {
        assertThat(stoppedWith(worker(MAILER, "report.build"))).isEqualTo(Status.Code.PERMISSION_DENIED);
    }

    @Test
    void aSubmitOnlyTokenStopsTheWorker() {
        assertThat(stoppedWith(worker(SHOP, "email.send"))).isEqualTo(Status.Code.PERMISSION_DENIED);
    }

    @Test
    void anAcceptedWorkerKeepsRunningUntilShutDown() throws Exception {
        Worker worker = worker(MAILER, "email.send");
        try {
            org.awaitility.Awaitility.await().until(worker::isConnected);
            assertThat(worker.whenStopped()).isNotDone();
        } finally {
            worker.shutdown(java.time.Duration.ofSeconds(5));
        }
        assertThat(worker.whenStopped().get(10, TimeUnit.SECONDS)).isNull();
    }
}
