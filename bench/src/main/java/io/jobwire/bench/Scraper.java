package io.jobwire.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/** Scrapes the broker's /metrics at a fixed interval all through the run, as Prometheus would ({@code --scrape-interval}). */
final class Scraper implements AutoCloseable {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread thread = new Thread(r, "scraper");
        thread.setDaemon(true);
        return thread;
    });
    private final AtomicLong scrapes = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong nanos = new AtomicLong();
    private final AtomicLong maxNanos = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();

    Scraper(int httpPort, Duration every) {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/metrics"))
                .timeout(Duration.ofSeconds(10)).build();
        timer.scheduleAtFixedRate(() -> {
            long start = System.nanoTime();
            try {
                HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
                long took = System.nanoTime() - start;
                if (response.statusCode() == 200) {
                    scrapes.incrementAndGet();
                    nanos.addAndGet(took);
                    maxNanos.accumulateAndGet(took, Math::max);
                    bytes.set(response.body().length);
                } else {
                    failures.incrementAndGet();
                }
            } catch (Exception e) {
                failures.incrementAndGet();
            }
        }, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
    }

    Map<String, Object> figures(Duration every) {
        Map<String, Object> figures = new LinkedHashMap<>();
        long n = scrapes.get();
        figures.put("intervalMs", every.toMillis());
        figures.put("scrapes", n);
        figures.put("failures", failures.get());
        figures.put("meanMs", n == 0 ? 0 : Scenarios.round(nanos.get() / 1e6 / n));
        figures.put("maxMs", Scenarios.round(maxNanos.get() / 1e6));
        figures.put("lastBytes", bytes.get());
        return figures;
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
