package io.jobwire.broker.examples;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.Callback;
import io.jobwire.api.v1.CallbackDelivery;
import io.jobwire.api.v1.CallbackDeliveryState;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.broker.callbacks.WebhookSignature;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.client.JobwireClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Callbacks checked by an implementation that is not ours: examples/webhooks/receiver.js verifies every
 * delivery with the {@code standardwebhooks} npm package (the Standard Webhooks reference library). Needs
 * node and npm (CI installs them); runs {@code npm ci} there when node_modules is missing.
 */
class NodeWebhookReceiverTest {
    private static final Path EXAMPLE = Path.of("..", "examples", "webhooks").toAbsolutePath().normalize();
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass(c -> c
            .callbackAllow(List.of("127.0.0.1/32")).callbackAllowHttp(true)
            .callbackRetryInitial(Duration.ofMillis(100)).callbackPollInterval(Duration.ofMillis(50)));

    @BeforeAll
    static void npm() throws Exception {
        assertThat(EXAMPLE.resolve("receiver.js")).isRegularFile();
        if (!Files.isDirectory(EXAMPLE.resolve("node_modules"))) {
            Process npm = new ProcessBuilder("npm", "ci", "--no-audit", "--no-fund").directory(EXAMPLE.toFile())
                    .redirectErrorStream(true).redirectOutput(EXAMPLE.resolve("npm-ci.log").toFile()).start();
            assertThat(npm.waitFor(5, TimeUnit.MINUTES)).isTrue();
            assertThat(npm.exitValue()).as(Files.readString(EXAMPLE.resolve("npm-ci.log"))).isZero();
        }
    }

    @Test
    void deliveriesVerifyWithTheStandardWebhooksLibraryAcrossARotation() throws Exception {
        JobwireClient client = fixture.client();
        String first = client.callbackSecret(false).getSecret();
        try (Receiver receiver = Receiver.start(first)) {
            Job job = cancelledWithCallback(client, receiver.url());
            receiver.awaitLine("verified msg_" + delivered(client, job).getId() + " job.cancelled job " + job.getId()
                    + " JOB_STATE_CANCELLED");

            // Rotated: the previous secret signs too, so a receiver still on it verifies...
            String second = client.callbackSecret(true).getSecret();
            assertThat(second).isNotEqualTo(first);
            Job afterRotation = cancelledWithCallback(client, receiver.url());
            receiver.awaitLine("verified msg_" + delivered(client, afterRotation).getId() + " ");
            // ...and so does one on the new secret.
            try (Receiver updated = Receiver.start(second)) {
                Job onNew = cancelledWithCallback(client, updated.url());
                updated.awaitLine("verified msg_" + delivered(client, onNew).getId() + " ");
            }
        }
        // A receiver with another secret refuses (401), and a 401 is not retried.
        try (Receiver wrong = Receiver.start(WebhookSignature.newSecret())) {
            Job job = cancelledWithCallback(client, wrong.url());
            wrong.awaitLine("refused ");
            CallbackDelivery failed = await().atMost(scaled(Duration.ofSeconds(30))).until(() -> client.get(job.getId())
                    .getCallbacks(0), d -> d.getState() == CallbackDeliveryState.CALLBACK_DELIVERY_STATE_FAILED);
            assertThat(failed.getAttemptsList()).singleElement().satisfies(a -> assertThat(a.getHttpStatus()).isEqualTo(401));
        }
    }

    private static Job cancelledWithCallback(JobwireClient client, String url) {
        Job job = client.submit(JobSpec.newBuilder().setType("hook.node").setPayload("{\"n\": 1}")
                .setCallback(Callback.newBuilder().setUrl(url)).build()).getJob();
        client.cancel(job.getId(), "done with it");
        return job;
    }

    private static CallbackDelivery delivered(JobwireClient client, Job job) {
        return await().atMost(scaled(Duration.ofSeconds(30))).until(() -> client.get(job.getId()).getCallbacks(0),
                d -> d.getState() == CallbackDeliveryState.CALLBACK_DELIVERY_STATE_DELIVERED);
    }

    /** node receiver.js on a free loopback port, its output lines collected. */
    private static final class Receiver implements AutoCloseable {
        final Process process;
        final int port;
        final List<String> lines = new CopyOnWriteArrayList<>();

        private Receiver(Process process, int port) {
            this.process = process;
            this.port = port;
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line = in.readLine(); line != null; line = in.readLine()) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            reader.setDaemon(true);
            reader.start();
        }

        static Receiver start(String secret) throws IOException {
            int port;
            try (ServerSocket socket = new ServerSocket(0)) {
                port = socket.getLocalPort();
            }
            ProcessBuilder builder = new ProcessBuilder("node", "receiver.js").directory(EXAMPLE.toFile()).redirectErrorStream(true);
            builder.environment().put("JOBWIRE_WEBHOOK_SECRET", secret);
            builder.environment().put("PORT", Integer.toString(port));
            Receiver receiver = new Receiver(builder.start(), port);
            receiver.awaitLine("listening on 127.0.0.1:" + port);
            return receiver;
        }

        String url() {
            return "http://127.0.0.1:" + port + "/jobwire";
        }

        void awaitLine(String start) {
            await().atMost(scaled(Duration.ofSeconds(60))).alias("receiver.js printing '" + start + "', printed " + lines)
                    .until(() -> lines.stream().anyMatch(line -> line.startsWith(start)));
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
