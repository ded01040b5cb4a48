package io.jobwire.broker.watch;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchFilter;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.broker.auth.Role;
import io.jobwire.broker.auth.TokenStore;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.client.JobwireClient;
import io.jobwire.client.JobwireException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** One principal may hold only so many Watch streams; others are not affected. */
class WatchLimitTest {
    private static final WatchRequest FILTER = WatchRequest.newBuilder()
            .setFilter(WatchFilter.newBuilder().addTypes("limit.job")).build();

    private static JobwireClient.Subscription watch(JobwireClient client, List<WatchEvent> events,
                                                    CompletableFuture<JobwireException> ended) {
        return client.watch(FILTER, events::add, ended::complete);
    }

    @Test
    void aPrincipalOverItsWatchLimitIsRefusedUntilOneCloses() {
        String alice = TokenStore.newToken();
        String bob = TokenStore.newToken();
        String tokens = TokenStore.line(alice, "alice", List.of(Role.SUBMIT), List.of()) + "\n"
                + TokenStore.line(bob, "bob", List.of(Role.SUBMIT), List.of());
        try (BrokerFixture fixture = BrokerFixture.start(c -> c.tokens(tokens).maxWatchesPerPrincipal(3));
             JobwireClient asAlice = JobwireClient.builder().target("127.0.0.1:" + fixture.broker().port()).token(alice).build();
             JobwireClient asBob = JobwireClient.builder().target("127.0.0.1:" + fixture.broker().port()).token(bob).build()) {
            List<JobwireClient.Subscription> open = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                List<WatchEvent> events = new CopyOnWriteArrayList<>();
                open.add(watch(asAlice, events, new CompletableFuture<>()));
                await().atMost(scaled(Duration.ofSeconds(5))).until(() -> events.stream().anyMatch(WatchEvent::getCaughtUp));
            }
            CompletableFuture<JobwireException> refused = new CompletableFuture<>();
            watch(asAlice, new CopyOnWriteArrayList<>(), refused);
            JobwireException error = refused.join();
            assertThat(error.code()).isEqualTo(io.grpc.Status.Code.RESOURCE_EXHAUSTED);
            assertThat(error.getMessage()).contains("alice").contains("3 watch streams");

            List<WatchEvent> bobsEvents = new CopyOnWriteArrayList<>();
            watch(asBob, bobsEvents, new CompletableFuture<>());
            await().atMost(scaled(Duration.ofSeconds(5))).until(() -> bobsEvents.stream().anyMatch(WatchEvent::getCaughtUp));

            open.get(0).close();
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() -> {
                List<WatchEvent> events = new CopyOnWriteArrayList<>();
                CompletableFuture<JobwireException> ended = new CompletableFuture<>();
                JobwireClient.Subscription again = watch(asAlice, events, ended);
                try {
                    await().atMost(scaled(Duration.ofSeconds(2))).until(() -> ended.isDone()
                            || events.stream().anyMatch(WatchEvent::getCaughtUp));
                    assertThat(events).anyMatch(WatchEvent::getCaughtUp);
                } finally {
                    if (ended.isDone()) {
                        again.close();
                    }
                }
            });
        }
    }
}
