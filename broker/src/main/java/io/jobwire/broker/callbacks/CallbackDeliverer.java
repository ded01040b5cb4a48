package io.jobwire.broker.callbacks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.util.concurrent.ThreadFactoryBuilder;
import com.google.protobuf.util.JsonFormat;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.metrics.BrokerMetrics;
import io.jobwire.broker.store.AttemptRecord;
import io.jobwire.broker.store.CallbackStore;
import io.jobwire.broker.store.JobQueries;
import io.jobwire.broker.store.JobRecord;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers the callback outbox. One thread ({@code jobwire-callbacks}) takes due deliveries with SKIP
 * LOCKED, only as many as there are free request slots ({@code maxInFlight}); each request runs on the
 * JDK's asynchronous HTTP client, so a slow receiver holds a slot, never a thread. A small pool
 * ({@code jobwire-callback-N}) resolves and checks each host before each attempt and records each outcome.
 *
 * <p>Per attempt: 5 s to connect, 15 s for the whole exchange, no redirects. 2xx delivers. Connection
 * errors, timeouts, 408, 429 and 5xx are tried again after an exponential backoff with jitter (or the
 * receiver's {@code Retry-After}, when longer) while inside the retry window (24 h by default); any other
 * status, and a host that resolves to a refused address, fail the delivery at once.
 */
public final class CallbackDeliverer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CallbackDeliverer.class);
    static final int RESPONSE_BYTES = 4096;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(15);
    private static final Duration MAX_BACKOFF = Duration.ofHours(1);
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();
    private static final String[] EMBEDDED = {"payload", "result", "details"};

    /**
     * @param retryFor     how long after the event a delivery is tried again
     * @param retryInitial the delay after the first failed attempt, doubling up to an hour
     * @param maxInFlight  requests open at once on this broker
     * @param pollInterval how often due deliveries are looked for when none were waiting
     * @param claimTimeout how long a taken delivery stays this broker's; longer than any request
     */
    public record Settings(Duration retryFor, Duration retryInitial, int maxInFlight, Duration pollInterval,
                           Duration claimTimeout) {
    }

    private final CallbackStore store;
    private final JobQueries queries;
    private final CallbackPolicy policy;
    private final Settings settings;
    private final ObjectMapper json;
    private final BrokerMetrics metrics;
    private final Semaphore slots;
    private final ExecutorService work;
    private final HttpClient http;
    private final Object wakeUp = new Object();
    private final Thread loop;
    private volatile boolean running = true;

    public CallbackDeliverer(CallbackStore store, JobQueries queries, CallbackPolicy policy, Settings settings,
                             ObjectMapper json, BrokerMetrics metrics) {
        this.metrics = metrics;
        this.store = store;
        this.queries = queries;
        this.policy = policy;
        this.settings = settings;
        this.json = json;
        this.slots = new Semaphore(settings.maxInFlight());
        this.work = Executors.newFixedThreadPool(4, new ThreadFactoryBuilder().setNameFormat("jobwire-callback-%d")
                .setDaemon(true).build());
        this.http = HttpClient.newBuilder()
                .connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER)
                .executor(work)
                .build();
        this.loop = new Thread(this::run, "jobwire-callbacks");
        loop.setDaemon(true);
    }

    public void start() {
        loop.start();
    }

    /** Looks for due deliveries now rather than at the next poll. */
    public void wake() {
        synchronized (wakeUp) {
            wakeUp.notifyAll();
        }
    }

    private void run() {
        while (running) {
            int taken = 0;
            int free = slots.availablePermits();
            try {
                if (free > 0) {
                    List<CallbackStore.Taken> due = store.take(free, settings.claimTimeout(), settings.retryFor());
                    taken = due.size();
                    for (CallbackStore.Taken delivery : due) {
                        slots.acquireUninterruptibly();
                        work.execute(() -> attempt(delivery));
                    }
                }
            } catch (RuntimeException e) {
                log.warn("could not take callback deliveries: {}", e.toString());
            }
            if (taken > 0 && taken == free) {
                continue; // there may be more due
            }
            synchronized (wakeUp) {
                try {
                    wakeUp.wait(settings.pollInterval().toMillis());
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    private void attempt(CallbackStore.Taken delivery) {
        long started = System.nanoTime();
        CompletableFuture<CallbackStore.Outcome> outcome;
        try {
            URI uri = policy.checkUrl(delivery.url());
            policy.resolve(uri.getHost()); // every address, right before the request (the JVM caches the lookup)
            String webhookId = "msg_" + delivery.id();
            long timestamp = System.currentTimeMillis() / 1000;
            byte[] body = body(delivery);
            String secret = delivery.secret() != null ? delivery.secret()
                    : store.secret(delivery.owner(), WebhookSignature.newSecret(), false).secret();
            HttpRequest request = HttpRequest.newBuilder(uri)
                    .timeout(REQUEST_TIMEOUT)
                    .header("content-type", "application/json")
                    .header("user-agent", "Jobwire-Webhooks/1")
                    .header("webhook-id", webhookId)
                    .header("webhook-timestamp", Long.toString(timestamp))
                    .header("webhook-signature", WebhookSignature.header(webhookId, timestamp, body, secret,
                            delivery.previousSecret()))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                    .build();
            outcome = http.sendAsync(request, info -> new Capped())
                    .orTimeout(REQUEST_TIMEOUT.toMillis() + 1000, TimeUnit.MILLISECONDS)
                    .handle((response, error) -> classify(delivery, response, error, started));
        } catch (CallbackPolicy.RefusedAddressException | IllegalArgumentException e) {
            outcome = CompletableFuture.completedFuture(failed(delivery, started, "refused: " + e.getMessage(), false));
        } catch (UnknownHostException e) {
            outcome = CompletableFuture.completedFuture(failed(delivery, started, "unknown host: " + e.getMessage(), true));
        } catch (RuntimeException e) {
            outcome = CompletableFuture.completedFuture(failed(delivery, started, e.toString(), true));
        }
        outcome.whenCompleteAsync((result, error) -> {
            try {
                if (result != null) {
                    store.record(result, settings.retryFor()).ifPresent(state -> {
                        metrics.callbackAttempt(state.equals("pending") ? "retrying" : state);
                        if (state.equals("failed")) {
                            log.atWarn().addKeyValue("job_id", String.valueOf(delivery.job().id())).addKeyValue("job_type", delivery.job().type())
                                    .addKeyValue("owner", delivery.owner()).addKeyValue("delivery_id", String.valueOf(delivery.id()))
                                    .log("callback delivery {} of job {} failed for good after attempt {}: {}", delivery.id(),
                                            delivery.job().id(), delivery.attempt(), result.error() != null ? result.error()
                                                    : "HTTP " + result.status());
                        } else {
                            log.debug("callback delivery {} attempt {}: {}", delivery.id(), delivery.attempt(), state);
                        }
                    });
                }
            } catch (RuntimeException e) {
                // Not recorded: the claim runs out and the delivery is attempted again (at least once).
                log.warn("could not record callback delivery {} attempt {}: {}", delivery.id(), delivery.attempt(), e.toString());
            } finally {
                slots.release();
                wake();
            }
        }, work);
    }

    private CallbackStore.Outcome classify(CallbackStore.Taken delivery, HttpResponse<String> response, Throwable error,
                                           long started) {
        if (error != null) {
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            String why = cause instanceof HttpConnectTimeoutException ? "connect timed out after 5 s"
                    : cause instanceof HttpTimeoutException || cause instanceof TimeoutException ? "timed out after 15 s"
                    : cause instanceof ConnectException ? "connection refused"
                    : cause instanceof IOException ? "connection failed: " + cause.getMessage()
                    : cause.toString();
            return failed(delivery, started, why, true);
        }
        int status = response.statusCode();
        long took = tookMs(started);
        String text = response.body();
        if (status >= 200 && status < 300) {
            return new CallbackStore.Outcome(delivery.id(), delivery.attempt(), took, status, text, null, true, false, 0);
        }
        boolean retryable = status == 408 || status == 429 || status >= 500;
        long delay = backoff(delivery.attempt());
        if (retryable) {
            long asked = retryAfterMs(response.headers().firstValue("retry-after"));
            delay = Math.max(delay, asked);
        }
        String why = status >= 300 && status < 400 ? "redirects are not followed (HTTP " + status + ")" : "HTTP " + status;
        return new CallbackStore.Outcome(delivery.id(), delivery.attempt(), took, status, text, why, false, retryable, delay);
    }

    private CallbackStore.Outcome failed(CallbackStore.Taken delivery, long started, String why, boolean retryable) {
        return new CallbackStore.Outcome(delivery.id(), delivery.attempt(), tookMs(started), null, null, why, false,
                retryable, backoff(delivery.attempt()));
    }

    /** After attempt n: initial x 2^(n-1), at most an hour, times a random factor in [0.5, 1]. */
    long backoff(int attempt) {
        double base = settings.retryInitial().toMillis() * Math.pow(2, Math.min(30, Math.max(0, attempt - 1)));
        double capped = Math.min(base, MAX_BACKOFF.toMillis());
        return (long) (capped * (0.5 + 0.5 * ThreadLocalRandom.current().nextDouble()));
    }

    /** Retry-After in seconds or as an HTTP date; 0 when absent or unreadable. */
    static long retryAfterMs(Optional<String> header) {
        if (header.isEmpty()) {
            return 0;
        }
        String value = header.get().strip();
        try {
            return Math.max(0, Long.parseLong(value)) * 1000;
        } catch (NumberFormatException e) {
            try {
                return Math.max(0, ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant().toEpochMilli()
                        - System.currentTimeMillis());
            } catch (DateTimeParseException notADate) {
                return 0;
            }
        }
    }

    private static long tookMs(long started) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    }

    /** {"type": event, "timestamp": ..., "data": the job as Get returns it, JSON fields as JSON}. */
    private byte[] body(CallbackStore.Taken delivery) {
        JobRecord job = delivery.job();
        List<AttemptRecord> attempts = queries.get(job.id(), null).map(JobRecord::attempts).orElse(List.of())
                .stream().filter(a -> a.attempt() <= job.attempt()).toList();
        try {
            ObjectNode data = (ObjectNode) json.readTree(PRINTER.print(ProtoJobs.toProto(job.withAttempts(attempts))));
            for (String field : EMBEDDED) {
                embed(data, field);
            }
            if (data.get("progress") instanceof ObjectNode progress) {
                embed(progress, "details");
            }
            if (delivery.payloadOmitted()) {
                data.put("payloadOmitted", true);
            }
            ObjectNode event = json.createObjectNode();
            event.put("type", delivery.event());
            event.put("timestamp", delivery.createdAt().toString());
            event.set("data", data);
            return json.writeValueAsBytes(event);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write the callback body of job " + job.id(), e);
        }
    }

    private void embed(ObjectNode object, String field) throws IOException {
        JsonNode value = object.get(field);
        if (value != null && value.isTextual()) {
            try {
                object.set(field, json.readTree(value.textValue()));
            } catch (IOException notJson) {
                // keep it as text
            }
        }
    }

    @Override
    public void close() {
        running = false;
        loop.interrupt();
        try {
            loop.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        work.shutdownNow();
    }

    /** Keeps the first 4 KiB of a response body, then stops reading it. */
    private static final class Capped implements HttpResponse.BodySubscriber<String> {
        private final byte[] kept = new byte[RESPONSE_BYTES];
        private final CompletableFuture<String> body = new CompletableFuture<>();
        private int length;
        private Flow.Subscription subscription;

        @Override
        public CompletionStage<String> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription given) {
            subscription = given;
            given.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            for (ByteBuffer item : items) {
                int n = Math.min(item.remaining(), kept.length - length);
                item.get(kept, length, n);
                length += n;
            }
            if (length >= kept.length) {
                subscription.cancel();
                finish();
            } else {
                subscription.request(1);
            }
        }

        @Override
        public void onError(Throwable error) {
            finish(); // what arrived is kept: the status is what counts
        }

        @Override
        public void onComplete() {
            finish();
        }

        private void finish() {
            // PostgreSQL text holds no NUL
            body.complete(new String(kept, 0, length, StandardCharsets.UTF_8).replace('\0', '\uFFFD'));
        }
    }
}
