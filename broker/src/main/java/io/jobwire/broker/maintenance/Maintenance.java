package io.jobwire.broker.maintenance;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import io.jobwire.broker.convert.Statuses;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The broker's background passes, one shape for all: each is a named {@link Runnable} run every so often
 * on the maintenance threads, a failed pass is logged (a warning when the database is out of reach, an
 * error otherwise) and tried again at the next one, and {@link #close} lets a running pass finish.
 * Tests run a pass on demand with {@link #runNow} instead of waiting for its interval.
 *
 * <p>A pass is either the broker's own ({@link #every}: its worker sessions, its watches) or shared by
 * all brokers on the database ({@link #shared}: the reaper, the ring, housekeeping), which runs only when
 * this broker gets the turn ({@link Turns}), so more brokers do not mean more of it.
 *
 * <pre>{@code
 * Maintenance maintenance = new Maintenance(2, passTurns::take);
 * maintenance.shared("reaper", Duration.ofSeconds(1), reaper::reapAll);
 * maintenance.start();
 * }</pre>
 */
public final class Maintenance implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Maintenance.class);
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
    /** The broker's passes, by name. */
    public static final String REAPER = "reaper";
    public static final String PRESENCE = "presence";
    public static final String RING = "ring";
    public static final String HOUSEKEEPING = "housekeeping";
    public static final String WATCH_RESYNC = "watch-resync";
    public static final String TYPE_REGISTRY = "type-registry";
    public static final String QUOTAS = "quotas";
    public static final String QUOTA_USAGE = "quota-usage";
    public static final String CALLBACKS = "callbacks";
    public static final String METRICS = "metrics";
    public static final String SCHEDULES = "schedules";
    public static final String CONCURRENCY_KEYS = "concurrency-keys";
    public static final String RATE_LIMITS = "rate-limits";
    public static final String DEPENDENCIES = "dependencies";
    public static final String DEPENDENCIES_IN_USE = "dependencies-in-use";
    public static final String FAIR_CLOCK = "fair-clock";
    public static final String HORIZON = "horizon";

    /** Who runs a shared pass now: true if this broker may (and is recorded as running it). */
    @FunctionalInterface
    public interface Turns {
        boolean take(String pass, Duration interval);
    }

    /** Told how long each run of a pass took (a shared pass: only the runs this broker had the turn for). */
    @FunctionalInterface
    public interface Timing {
        void ran(String pass, long nanos);
    }

    private record Pass(Duration interval, Runnable work, boolean shared) {
    }

    private final Map<String, Pass> passes = new LinkedHashMap<>();
    private final ScheduledExecutorService threads;
    private final Turns turns;
    private final Timing timing;
    private boolean started;

    public Maintenance(int threads, Turns turns) {
        this(threads, turns, (pass, nanos) -> { });
    }

    public Maintenance(int threads, Turns turns, Timing timing) {
        this.turns = turns;
        this.timing = timing;
        this.threads = Executors.newScheduledThreadPool(threads,
                new ThreadFactoryBuilder().setNameFormat("jobwire-maintenance-%d").setDaemon(true).build());
    }

    /** Runs {@code work} every {@code interval} (the first time one interval after {@link #start}). */
    public Maintenance every(String name, Duration interval, Runnable work) {
        return add(name, new Pass(interval, work, false));
    }

    /**
     * Runs {@code work} about every {@code interval} across all brokers: this broker tries every interval,
     * and runs it when it gets the turn.
     */
    public Maintenance shared(String name, Duration interval, Runnable work) {
        return add(name, new Pass(interval, work, true));
    }

    private synchronized Maintenance add(String name, Pass pass) {
        if (started) {
            throw new IllegalStateException("maintenance already started; add " + name + " before");
        }
        if (passes.putIfAbsent(name, pass) != null) {
            throw new IllegalArgumentException("two maintenance passes named " + name);
        }
        return this;
    }

    public synchronized void start() {
        started = true;
        passes.forEach((name, pass) -> {
            Runnable work = pass.shared() ? () -> {
                if (turns.take(name, pass.interval())) {
                    timed(name, pass.work());
                }
            } : () -> timed(name, pass.work());
            threads.scheduleWithFixedDelay(() -> runLogged(name, work),
                    pass.interval().toMillis(), pass.interval().toMillis(), TimeUnit.MILLISECONDS);
        });
    }

    /**
     * Runs the pass now on the caller's thread, whoever has the turn, and lets its failure through (the
     * scheduled runs of it go on meanwhile; every pass is safe to run twice at once).
     */
    public void runNow(String name) {
        Pass pass;
        synchronized (this) {
            pass = passes.get(name);
        }
        if (pass == null) {
            throw new IllegalArgumentException("no maintenance pass named " + name + " (have " + passes.keySet() + ")");
        }
        pass.work().run();
    }

    private void timed(String name, Runnable work) {
        long start = System.nanoTime();
        try {
            work.run();
        } finally {
            timing.ran(name, System.nanoTime() - start);
        }
    }

    private static void runLogged(String name, Runnable work) {
        try {
            work.run();
        } catch (RuntimeException e) {
            if (Statuses.isDatabaseUnavailable(e)) {
                log.warn("{} pass cannot reach the database ({}); will try again", name, e.getMessage());
            } else {
                log.error("{} pass failed; will try again", name, e);
            }
        }
    }

    /** Stops scheduling; waits up to five seconds for a running pass (interrupted, it fails half way). */
    @Override
    public void close() {
        threads.shutdown();
        try {
            if (!threads.awaitTermination(CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                threads.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            threads.shutdownNow();
        }
    }
}
