package io.jobwire.broker.callbacks;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.grpc.Status;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.Callback;
import io.jobwire.api.v1.CallbackDelivery;
import io.jobwire.api.v1.CallbackDeliveryState;
import io.jobwire.api.v1.CallbackEvents;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.ListCallbacksRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.client.JobwireClient;
import io.jobwire.client.JobwireException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Callbacks against a real HTTP receiver on loopback (which the broker may call only because it is told
 * to: --callback-allow 127.0.0.0/8 --callback-allow-http).
 */
class CallbackTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass(c -> c
            .callbackAllow(List.of("127.0.0.0/8")).callbackAllowHttp(true)
            .callbackRetryInitial(Duration.ofMillis(100)).callbackPollInterval(Duration.ofMillis(50)));

    /** What the receiver was sent. */
    record Received(String path, Map<String, String> headers, String body) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }
    }

    private final List<Received> received = new CopyOnWriteArrayList<>();
    private final Map<String, IntSupplier> answers = new ConcurrentHashMap<>();
    private HttpServer receiver;

    private String receiver() throws IOException {
        receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            Map<String, String> headers = new ConcurrentHashMap<>();
            exchange.getRequestHeaders().forEach((name, values) -> headers.put(name.toLowerCase(), values.get(0)));
            received.add(new Received(exchange.getRequestURI().getPath(), headers, new String(body, StandardCharsets.UTF_8)));
            int status = answers.getOrDefault(exchange.getRequestURI().getPath(), () -> 204).getAsInt();
            byte[] answer = exchange.getRequestURI().getPath().equals("/big") ? "x".repeat(10_000).getBytes(StandardCharsets.UTF_8)
                    : ("answer " + status).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, status == 204 ? -1 : answer.length);
            if (status != 204) {
                exchange.getResponseBody().write(answer);
            }
            exchange.close();
        });
        receiver.start();
        return "http://127.0.0.1:" + receiver.getAddress().getPort();
    }

    @AfterEach
    void stopReceiver() {
        if (receiver != null) {
            receiver.stop(0);
        }
    }

    private static JobSpec withCallback(String type, String url, CallbackEvents events) {
        return JobSpec.newBuilder().setType(type).setPayload("{\"order\": 7}")
                .setCallback(Callback.newBuilder().setUrl(url).setEvents(events)).build();
    }

    private static CallbackDelivery awaitDelivery(JobwireClient client, String jobId, CallbackDeliveryState state) {
        return await().atMost(scaled(Duration.ofSeconds(30))).until(() -> client.get(jobId).getCallbacksList().stream()
                .filter(d -> d.getState() == state).findFirst().orElse(null), java.util.Objects::nonNull);
    }

    @Test
    void aFinishedJobIsPostedSignedWithTheJobAsGetReturnsIt() throws Exception {
        String url = receiver() + "/done";
        JobwireClient client = fixture.client();
        String secret = client.callbackSecret(false).getSecret();
        assertThat(secret).startsWith("whsec_");
        try (RawWorker worker = fixture.connectWorker("cb-worker", 1, "cb.signed")) {
            Job job = client.submit(withCallback("cb.signed", url, CallbackEvents.CALLBACK_EVENTS_UNSPECIFIED)).getJob();
            assertThat(job.getCallback().getUrl()).isEqualTo(url);
            AssignedJob assigned = worker.take(1).get(0);
            worker.complete(assigned.getLease(), "{\"total\": 42}");
            CallbackDelivery delivery = awaitDelivery(client, job.getId(), CallbackDeliveryState.CALLBACK_DELIVERY_STATE_DELIVERED);
            assertThat(delivery.getEvent()).isEqualTo("job.succeeded");
            assertThat(delivery.getAttemptsList()).hasSize(1);
            assertThat(delivery.getAttempts(0).getHttpStatus()).isEqualTo(204);

            assertThat(received).hasSize(1);
            Received post = received.get(0);
            JsonNode body = post.json();
            assertThat(body.get("type").asText()).isEqualTo("job.succeeded");
            assertThat(body.at("/data/id").asText()).isEqualTo(job.getId());
            assertThat(body.at("/data/state").asText()).isEqualTo("JOB_STATE_SUCCEEDED");
            assertThat(body.at("/data/result/total").asInt()).isEqualTo(42);
            assertThat(body.at("/data/payload/order").asInt()).isEqualTo(7);
            assertThat(body.at("/data/attempts/0/outcome").asText()).isEqualTo("ATTEMPT_OUTCOME_SUCCEEDED");
            assertThat(post.body()).doesNotContain(assigned.getLease().getLeaseToken());
            assertThat(post.headers().get("webhook-id")).isEqualTo(delivery.getWebhookId());
            String expected = WebhookSignature.sign(secret, post.headers().get("webhook-id"),
                    Long.parseLong(post.headers().get("webhook-timestamp")), post.body().getBytes(StandardCharsets.UTF_8));
            assertThat(post.headers().get("webhook-signature")).isEqualTo("v1," + expected);
        }
    }

    @Test
    void everyChangeOfStateIsSentWhenAskedFor() throws Exception {
        String url = receiver() + "/all";
        JobwireClient client = fixture.client();
        try (RawWorker worker = fixture.connectWorker("cb-all", 1, "cb.all")) {
            Job job = client.submit(withCallback("cb.all", url, CallbackEvents.CALLBACK_EVENTS_ALL)).getJob();
            AssignedJob first = worker.take(1).get(0);
            worker.fail(first.getLease(), "try again", true);
            AssignedJob second = worker.take(1).get(0);
            worker.complete(second.getLease(), "{}");
            await().atMost(scaled(Duration.ofSeconds(30))).until(() -> client.get(job.getId()).getCallbacksList().stream()
                    .allMatch(d -> d.getState() == CallbackDeliveryState.CALLBACK_DELIVERY_STATE_DELIVERED)
                    && client.get(job.getId()).getCallbacksCount() == 5);
            assertThat(client.get(job.getId()).getCallbacksList()).extracting(CallbackDelivery::getEvent)
                    .containsExactly("job.queued", "job.running", "job.queued", "job.running", "job.succeeded");
            // each event shows the job as it was then
            assertThat(received.stream().filter(r -> r.json().get("type").asText().equals("job.running"))
                    .map(r -> r.json().at("/data/attempt").asInt())).containsExactlyInAnyOrder(1, 2);
        }
    }

    @Test
    void aReceiverThatIsDownThenUpGetsTheDeliveryWithEveryAttemptRecorded() throws Exception {
        String url = receiver() + "/flaky";
        AtomicInteger calls = new AtomicInteger();
        answers.put("/flaky", () -> calls.incrementAndGet() <= 2 ? 503 : 200);
        JobwireClient client = fixture.client();
        Job job = client.submit(withCallback("cb.flaky", url, CallbackEvents.CALLBACK_EVENTS_FINAL)).getJob();
        client.cancel(job.getId(), "not needed");
        CallbackDelivery delivery = awaitDelivery(client, job.getId(), CallbackDeliveryState.CALLBACK_DELIVERY_STATE_DELIVERED);
        assertThat(delivery.getEvent()).isEqualTo("job.cancelled");
        assertThat(delivery.getAttemptsList()).extracting(a -> a.getHttpStatus()).containsExactly(503, 503, 200);
        assertThat(delivery.getAttempts(0).getResponse()).isEqualTo("answer 503");
        // one webhook-id for every attempt of the delivery
        assertThat(received.stream().map(r -> r.headers().get("webhook-id")).distinct()).hasSize(1);

        // Nobody listening at all: connection refused, recorded, retried; delivered once someone listens.
        receiver.stop(0);
        Job second = client.submit(withCallback("cb.flaky", url, CallbackEvents.CALLBACK_EVENTS_FINAL)).getJob();
        client.cancel(second.getId());
        await().atMost(scaled(Duration.ofSeconds(30))).until(() -> client.get(second.getId()).getCallbacks(0).getAttemptsCount() >= 2);
        CallbackDelivery failing = client.get(second.getId()).getCallbacks(0);
        assertThat(failing.getState()).isEqualTo(CallbackDeliveryState.CALLBACK_DELIVERY_STATE_PENDING);
        assertThat(failing.getAttempts(0).getError()).contains("connection");
        assertThat(client.listCallbacks(ListCallbacksRequest.newBuilder().setFailing(true).build()).getDeliveriesList())
                .extracting(CallbackDelivery::getJobId).contains(second.getId()).doesNotContain(job.getId());
        int port = Integer.parseInt(url.replaceAll(".*:(\\d+)/.*", "$1"));
        receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        receiver.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        receiver.start();
        awaitDelivery(client, second.getId(), CallbackDeliveryState.CALLBACK_DELIVERY_STATE_DELIVERED);
    }

    @Test
    void theFirstFourKibOfAnAnswerAreKept() throws Exception {
        String url = receiver() + "/big";
        answers.put("/big", () -> 200);
        JobwireClient client = fixture.client();
        Job job = client.submit(withCallback("cb.big", url, CallbackEvents.CALLBACK_EVENTS_FINAL)).getJob();
        client.cancel(job.getId());
        CallbackDelivery delivered = awaitDelivery(client, job.getId(), CallbackDeliveryState.CALLBACK_DELIVERY_STATE_DELIVERED);
        assertThat(delivered.getAttempts(0).getResponse()).isEqualTo("x".repeat(4096));
    }

    @Test
    void aClientErrorFailsAtOnceAndRedeliverySendsItAgain() throws Exception {
        String url = receiver() + "/gone";
        AtomicInteger calls = new AtomicInteger();
        answers.put("/gone", () -> calls.incrementAndGet() == 1 ? 410 : 204);
        JobwireClient client = fixture.client();
        Job job = client.submit(withCallback("cb.gone", url, CallbackEvents.CALLBACK_EVENTS_FINAL)).getJob();
        client.cancel(job.getId());
        CallbackDelivery failed = awaitDelivery(client, job.getId(), CallbackDeliveryState.CALLBACK_DELIVERY_STATE_FAILED);
        assertThat(failed.getAttemptsList()).hasSize(1);
        assertThat(failed.getAttempts(0).getHttpStatus()).isEqualTo(410);

        assertThat(client.redeliverCallback(failed.getId()).getState())
                .isEqualTo(CallbackDeliveryState.CALLBACK_DELIVERY_STATE_PENDING);
        CallbackDelivery again = awaitDelivery(client, job.getId(), CallbackDeliveryState.CALLBACK_DELIVERY_STATE_DELIVERED);
        assertThat(again.getAttemptsList()).extracting(a -> a.getHttpStatus()).containsExactly(410, 204);
        assertThat(received).extracting(r -> r.headers().get("webhook-id")).containsOnly(failed.getWebhookId());
    }

    @Test
    void aReceiverFailingForGoodIsGivenUpAfterTheRetryWindow() throws Exception {
        String url = receiver() + "/down";
        answers.put("/down", () -> 500);
        try (BrokerFixture shortWindow = BrokerFixture.start(c -> c
                .callbackAllow(List.of("127.0.0.0/8")).callbackAllowHttp(true).callbackRetryFor(Duration.ofSeconds(2))
                .callbackRetryInitial(Duration.ofMillis(200)).callbackPollInterval(Duration.ofMillis(50)))) {
            JobwireClient client = shortWindow.client();
            Job job = client.submit(withCallback("cb.down", url, CallbackEvents.CALLBACK_EVENTS_FINAL)).getJob();
            client.cancel(job.getId());
            CallbackDelivery failed = awaitDelivery(client, job.getId(), CallbackDeliveryState.CALLBACK_DELIVERY_STATE_FAILED);
            assertThat(failed.getAttemptsCount()).isGreaterThan(1);
            assertThat(failed.getAttemptsList()).allMatch(a -> a.getHttpStatus() == 500);
            assertThat(failed.hasFinishedAt()).isTrue();
        }
    }

    @Test
    void internalAddressesAndPlainHttpAreRefusedByDefault() throws Exception {
        String url = receiver() + "/internal";
        try (BrokerFixture strict = BrokerFixture.start(c -> c.callbackPollInterval(Duration.ofMillis(50)))) {
            JobwireClient client = strict.client();
            for (String refused : List.of(url, "https://127.0.0.1/x", "https://169.254.169.254/latest/meta-data",
                    "https://10.1.2.3/", "https://[::1]/", "https://2130706433/", "ftp://example.com/", "not a url")) {
                try {
                    client.submit(withCallback("cb.refused", refused, CallbackEvents.CALLBACK_EVENTS_FINAL));
                    throw new AssertionError("accepted " + refused);
                } catch (JobwireException e) {
                    assertThat(e.code()).as(refused).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getMessage()).as(refused).contains("job.callback.url");
                }
            }
            // A name is checked on every attempt, on what it resolves to: localhost is loopback.
            Job job = client.submit(withCallback("cb.refused", "https://localhost:" + receiver.getAddress().getPort()
                    + "/internal", CallbackEvents.CALLBACK_EVENTS_FINAL)).getJob();
            client.cancel(job.getId());
            CallbackDelivery refused = awaitDelivery(client, job.getId(), CallbackDeliveryState.CALLBACK_DELIVERY_STATE_FAILED);
            assertThat(refused.getAttempts(0).getError()).contains("refused").contains("loopback");
            assertThat(received).isEmpty();
        }
    }

    @Test
    void manyPendingDeliveriesToASlowReceiverOpenNoMoreRequestsThanAllowed() throws Exception {
        AtomicInteger open = new AtomicInteger();
        AtomicInteger mostOpen = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        HttpServer slow = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        slow.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        slow.createContext("/", exchange -> {
            // Open from the moment the request is here until just before its answer leaves: the broker sees
            // its request end only after that, so this never counts more than the broker has open (counting
            // down after the answer would, on a busy machine, overlap the broker's next request).
            mostOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
            try {
                exchange.getRequestBody().readAllBytes();
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                open.decrementAndGet();
                done.incrementAndGet();
            }
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        slow.start();
        try (BrokerFixture bounded = BrokerFixture.start(c -> c.callbackAllow(List.of("127.0.0.0/8")).callbackAllowHttp(true)
                .callbackConcurrency(4).callbackPollInterval(Duration.ofMillis(50)))) {
            String url = "http://127.0.0.1:" + slow.getAddress().getPort() + "/slow";
            int jobs = 200;
            List<JobSpec> batch = new java.util.ArrayList<>();
            for (int i = 0; i < jobs; i++) {
                batch.add(JobSpec.newBuilder().setType("cb.slow").setDelay(com.google.protobuf.Duration.newBuilder()
                        .setSeconds(3600)).setCallback(Callback.newBuilder().setUrl(url)
                        .setEvents(CallbackEvents.CALLBACK_EVENTS_ALL)).build());
            }
            bounded.client().submitBatch(batch); // 200 job.queued events at once
            await().atMost(scaled(Duration.ofSeconds(60))).until(() -> done.get() >= jobs);
            assertThat(mostOpen.get()).isBetween(1, 4);
        } finally {
            slow.stop(0);
        }
    }

    @Test
    void twoBrokersDeliverEachEventOnce() throws Exception {
        String url = receiver() + "/once";
        try (BrokerFixture other = BrokerFixture.start(fixture.jdbcUrl(), c -> c
                .callbackAllow(List.of("127.0.0.0/8")).callbackAllowHttp(true).callbackPollInterval(Duration.ofMillis(50)))) {
            JobwireClient client = fixture.client();
            int jobs = 60;
            for (int i = 0; i < jobs; i++) {
                String id = client.submit(withCallback("cb.once", url, CallbackEvents.CALLBACK_EVENTS_FINAL)).getJob().getId();
                (i % 2 == 0 ? client : other.client()).cancel(id);
            }
            await().atMost(scaled(Duration.ofSeconds(60))).until(() -> received.size() >= jobs);
            Thread.sleep(500); // a double delivery would arrive right behind
            assertThat(received).hasSize(jobs);
            assertThat(received.stream().map(r -> r.headers().get("webhook-id")).distinct()).hasSize(jobs);
        }
    }
}
