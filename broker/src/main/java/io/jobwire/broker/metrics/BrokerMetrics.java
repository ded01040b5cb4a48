package io.jobwire.broker.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The broker's metrics, in Micrometer with the Prometheus registry: what {@code /metrics} serves. Names
 * follow the Prometheus conventions once exported ({@code jobwire.jobs.submitted} becomes
 * {@code jobwire_jobs_submitted_total}, a timer in seconds {@code jobwire_job_wait_seconds}). Every
 * recording is a map lookup and an add: nothing here touches the database or blocks.
 *
 * <p>Each broker counts what it did itself (its submits, claims, finishes, its reaper turns): summed over
 * the brokers of a cluster, every transition is counted once. The queue gauges are the cluster's (read
 * from the maintained counts), the same on every broker.
 */
public final class BrokerMetrics implements AutoCloseable {
    /**
     * Histogram buckets (the {@code le} of {@code _bucket}): a dozen or so each, as Prometheus advises, rather
     * than Micrometer's seventy-odd per series: a scrape stays small and cheap with many types and queues.
     */
    private static final Duration[] JOB_BUCKETS = {Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
            Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
            Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10),
            Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofMinutes(5), Duration.ofMinutes(15), Duration.ofHours(1)};
    private static final Duration[] COMMIT_BUCKETS = {Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5),
            Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5)};

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();
    private final Map<List<String>, AtomicLong[]> queues = new ConcurrentHashMap<>();
    private final JvmGcMetrics gc = new JvmGcMetrics();

    public BrokerMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** The Prometheus text format of everything. */
    public String scrape() {
        return registry.scrape();
    }

    public void submitted(String type, String queue) {
        counter("jobwire.jobs.submitted", "Jobs created by Submit and SubmitBatch (not those found by their key)", type, queue)
                .increment();
    }

    /** A job was claimed for a worker, {@code waited} after it became due. */
    public void started(String type, String queue, Duration waited) {
        counter("jobwire.jobs.started", "Attempts started (jobs claimed for a worker)", type, queue).increment();
        timer("jobwire.job.wait", "From when a job is due (submitted, or its run_at) to its claim", type, queue)
                .record(waited.isNegative() ? Duration.ZERO : waited);
    }

    /**
     * An attempt ended by its worker: {@code outcome} succeeded, failed (for good), retried (failed, queued
     * again) or released; {@code ran} from the claim to the finish.
     */
    public void finished(String type, String queue, String outcome, Duration ran) {
        counter("jobwire.jobs." + outcome, outcomeHelp(outcome), type, queue).increment();
        timer("jobwire.job.run", "From an attempt's claim to its finish by the worker", type, queue).record(ran);
    }

    public void cancelled(String type, String queue) {
        counter("jobwire.jobs.cancelled", "Jobs cancelled (by a Cancel call, a concurrency key's strategy or a dependency that did not succeed)",
                type, queue).increment();
    }

    /** The reaper took an attempt back because its lease ran out. */
    public void leaseExpired(String type, String queue) {
        counter("jobwire.jobs.lease.expired", "Attempts whose lease ran out (the reaper took the job back)", type, queue)
                .increment();
    }

    /** An attempt ran past its run timeout (the reaper took the job back). */
    public void timedOut(String type, String queue) {
        counter("jobwire.jobs.timed.out", "Attempts that ran past their run timeout (the broker stopped them)", type, queue)
                .increment();
    }

    /** A callback delivery attempt ended: delivered, retrying or failed. */
    public void callbackAttempt(String outcome) {
        counters.computeIfAbsent("callback|" + outcome, key -> Counter.builder("jobwire.callback.attempts")
                .description("Callback delivery attempts by what came of them").tag("outcome", outcome)
                .register(registry)).increment();
    }

    /** A gRPC call ended. */
    public void grpcCall(String method, String status) {
        counters.computeIfAbsent("grpc|" + method + "|" + status, key -> Counter.builder("jobwire.grpc.server.calls")
                .description("gRPC calls the broker answered, by method and status")
                .tag("method", method).tag("status", status).register(registry)).increment();
    }

    /** One flush of a group commit: how many requests it carried and how long it took. */
    public void groupCommit(String kind, int size, long nanos) {
        timers.computeIfAbsent("commit|" + kind, key -> Timer.builder("jobwire.group.commit")
                .description("Group commits: one transaction for many requests").tag("kind", kind)
                .serviceLevelObjectives(COMMIT_BUCKETS).register(registry)).record(nanos, TimeUnit.NANOSECONDS);
        registry.summary("jobwire.group.commit.size", "kind", kind).record(size);
    }

    /** One run of a background pass on this broker (a shared pass: when this broker had the turn). */
    public void maintenancePass(String pass, long nanos) {
        timers.computeIfAbsent("maintenance|" + pass, key -> Timer.builder("jobwire.maintenance.pass")
                .description("Runs of the broker's background passes (reaper, ring, housekeeping, ...) and how long they took")
                .tag("pass", pass).register(registry)).record(nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * How long the oldest transaction or snapshot in the database has held back vacuum (0 if none), as the
     * broker's last look found it ({@link io.jobwire.broker.store.HorizonWatch}).
     */
    public void oldestTransaction(java.util.function.DoubleSupplier seconds) {
        Gauge.builder("jobwire.database.oldest.transaction.age", seconds::getAsDouble).baseUnit("seconds")
                .description("How long the oldest open transaction or snapshot in the database has held back vacuum "
                        + "(a report, an idle psql, a standby's feedback); the tables keep every row version written since")
                .register(registry);
    }

    /** Worker streams open on this broker and the jobs they could take now, read when scraped. */
    public void workers(java.util.function.Supplier<Integer> streams, java.util.function.Supplier<Long> freeSlots) {
        Gauge.builder("jobwire.worker.streams", () -> streams.get()).description("Worker streams open on this broker")
                .register(registry);
        Gauge.builder("jobwire.worker.free.slots", () -> freeSlots.get())
                .description("Jobs the worker streams on this broker have room (credit) for now").register(registry);
    }

    /**
     * The cluster's waiting jobs per (type, queue), from the maintained counts: how many are queued and due,
     * and how long the oldest has waited. Types and queues that no longer have any show 0.
     */
    public void queues(Map<List<String>, long[]> depthAndOldestMillis) {
        Set<List<String>> seen = depthAndOldestMillis.keySet();
        queues.forEach((key, values) -> {
            if (!seen.contains(key)) {
                values[0].set(0);
                values[1].set(0);
            }
        });
        depthAndOldestMillis.forEach((key, values) -> {
            AtomicLong[] held = queues.computeIfAbsent(key, k -> {
                AtomicLong[] fresh = {new AtomicLong(), new AtomicLong()};
                Gauge.builder("jobwire.queue.depth", fresh[0], AtomicLong::get)
                        .description("Jobs queued and due, waiting for a worker").tag("type", k.get(0)).tag("queue", k.get(1))
                        .register(registry);
                Gauge.builder("jobwire.queue.oldest.age", fresh[1], held1 -> held1.get() / 1000.0).baseUnit("seconds")
                        .description("How long the oldest due job has waited").tag("type", k.get(0)).tag("queue", k.get(1))
                        .register(registry);
                return fresh;
            });
            held[0].set(values[0]);
            held[1].set(values[1]);
        });
    }

    private Counter counter(String name, String help, String type, String queue) {
        return counters.computeIfAbsent(name + "|" + type + "|" + queue, key -> Counter.builder(name).description(help)
                .tag("type", type).tag("queue", queue).register(registry));
    }

    private Timer timer(String name, String help, String type, String queue) {
        return timers.computeIfAbsent(name + "|" + type + "|" + queue, key -> Timer.builder(name).description(help)
                .tag("type", type).tag("queue", queue).serviceLevelObjectives(JOB_BUCKETS)
                .register(registry));
    }

    private static String outcomeHelp(String outcome) {
        return switch (outcome) {
            case "succeeded" -> "Jobs completed by their worker";
            case "failed" -> "Jobs failed for good by their worker (not retryable, or attempts spent)";
            case "retried" -> "Failed attempts whose job was queued again for a retry";
            default -> "Attempts given back unharmed by their worker";
        };
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
