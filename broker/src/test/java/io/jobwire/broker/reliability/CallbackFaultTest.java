package io.jobwire.broker.reliability;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.jobwire.api.v1.Callback;
import io.jobwire.api.v1.CallbackDelivery;
import io.jobwire.api.v1.CallbackDeliveryState;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.broker.reliability.Processes.BrokerProcess;
import io.jobwire.broker.testing.TestPostgres;
import io.jobwire.client.JobwireClient;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A callback's delivery survives the broker that committed it being SIGKILLed. */
class CallbackFaultTest {
    private static final List<String> CALLBACKS = List.of("--callback-allow", "127.0.0.0/8", "--callback-allow-http",
            "--callback-claim-timeout", "20s");

    @TempDir
    Path dir;

    @Test
    void aBrokerKilledDuringThePostLeavesTheDeliveryToAnother() throws Exception {
        String db = TestPostgres.newDatabase();
        List<String> webhookIds = new CopyOnWriteArrayList<>();
        CountDownLatch release = new CountDownLatch(1);
        HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.setExecutor(Executors.newCachedThreadPool());
        receiver.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            webhookIds.add(exchange.getRequestHeaders().getFirst("webhook-id"));
            if (webhookIds.size() == 1) {
                try {
                    release.await(); // the first POST never gets an answer: its broker dies meanwhile
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        receiver.start();
        String url = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
        try (BrokerProcess committing = new BrokerProcess(Processes.freePort(), db, dir.resolve("a.log")).start(CALLBACKS);
             BrokerProcess survivor = new BrokerProcess(Processes.freePort(), db, dir.resolve("b.log"))) {
            Job job;
            try (JobwireClient viaA = JobwireClient.connect("127.0.0.1:" + committing.port)) {
                job = viaA.submit(JobSpec.newBuilder().setType("fault.callback")
                        .setCallback(Callback.newBuilder().setUrl(url)).build()).getJob();
                viaA.cancel(job.getId(), "for the callback");
            }
            await().atMost(scaled(Duration.ofSeconds(60))).until(() -> webhookIds.size() == 1);
            committing.kill();

            survivor.start(CALLBACKS);
            try (JobwireClient viaB = JobwireClient.connect("127.0.0.1:" + survivor.port)) {
                CallbackDelivery delivered = await().atMost(scaled(Duration.ofSeconds(90)))
                        .until(() -> viaB.get(job.getId()).getCallbacks(0),
                                d -> d.getState() == CallbackDeliveryState.CALLBACK_DELIVERY_STATE_DELIVERED);
                // The same event, the same webhook-id: the receiver can tell it is the one it half-received.
                assertThat(webhookIds).hasSize(2).containsOnly(delivered.getWebhookId());
                // The attempt the dead broker made left no record; the one that delivered did.
                assertThat(delivered.getAttemptsList()).singleElement().satisfies(attempt -> {
                    assertThat(attempt.getAttempt()).isEqualTo(2);
                    assertThat(attempt.getHttpStatus()).isEqualTo(204);
                });
            }
        } finally {
            release.countDown();
            receiver.stop(0);
        }
    }
}
