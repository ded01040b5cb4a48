package io.jobwire.broker.dashboard;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The overview's last hour: the broker's maintained counts per type and queue, sampled every {@link #STEP}
 * and kept in memory for {@link #WINDOW}. A scope is one owner's jobs (a {@code submit} account sees only
 * its own) or every job (an admin). Every job's scope is sampled from the broker's start; an owner's from
 * the first time someone looks at it, for as long as someone did within the window; each sample is one
 * read of the counts table. A broker up for ten minutes shows ten.
 */
public final class Timeline {
    static final Duration STEP = Duration.ofSeconds(10);
    static final Duration WINDOW = Duration.ofHours(1);
    private static final String ALL = "\u0000all";

    /** One (type, queue)'s counts at a moment. */
    public record Counts(String type, String queue, long queued, long running, long succeeded, long failed, long cancelled,
                  long held, Duration oldestQueuedAge) {
        long finished() {
            return succeeded + failed + cancelled;
        }
    }

    /** Reads the counts of one owner's jobs, or of every job when owner is null. */
    @FunctionalInterface
    public interface Source {
        List<Counts> counts(String owner);
    }

    record Sample(Instant at, Map<String, Counts> byQueue) {
        static String key(String type, String queue) {
            return type + "\u0000" + queue;
        }
    }

    private static final class Series {
        final Deque<Sample> samples = new ArrayDeque<>();
        volatile Instant viewedAt;
        volatile boolean always;
    }

    private final Source source;
    private final Clock clock;
    private final Map<String, Series> scopes = new ConcurrentHashMap<>();

    Timeline(Source source, Clock clock) {
        this.source = source;
        this.clock = clock;
    }

    /** Samples every job's scope from now on, whether anyone looks or not (the admins' overview). */
    void sampleAllJobsAlways() {
        Series series = scopes.computeIfAbsent(ALL, s -> new Series());
        series.viewedAt = clock.instant();
        series.always = true;
    }

    /** Takes a sample of every scope looked at within the window; forgets the others. */
    void sample() {
        Instant now = clock.instant();
        scopes.entrySet().removeIf(e -> !e.getValue().always && e.getValue().viewedAt.plus(WINDOW).isBefore(now));
        for (Map.Entry<String, Series> e : scopes.entrySet()) {
            take(e.getKey(), e.getValue(), now);
        }
    }

    /** The samples of a scope (owner, or null for every job), oldest first; the first look takes one at once. */
    List<Sample> samples(String owner) {
        String scope = owner == null ? ALL : owner;
        Series series = scopes.computeIfAbsent(scope, s -> new Series());
        Instant now = clock.instant();
        series.viewedAt = now;
        synchronized (series) {
            if (series.samples.isEmpty()) {
                take(scope, series, now);
            }
            return List.copyOf(series.samples);
        }
    }

    private void take(String scope, Series series, Instant now) {
        Map<String, Counts> byQueue = new LinkedHashMap<>();
        for (Counts c : source.counts(Objects.equals(scope, ALL) ? null : scope)) {
            byQueue.put(Sample.key(c.type(), c.queue()), c);
        }
        synchronized (series) {
            series.samples.addLast(new Sample(now, byQueue));
            while (series.samples.size() > 1 && series.samples.peekFirst().at().plus(WINDOW).isBefore(now)) {
                series.samples.removeFirst();
            }
        }
    }

    /** Per-minute rates between consecutive samples of a value, for one queue (key) or all (null). */
    static List<double[]> ratePerMinute(List<Sample> samples, String key, java.util.function.ToLongFunction<Counts> value) {
        List<double[]> points = new ArrayList<>();
        for (int i = 1; i < samples.size(); i++) {
            Sample before = samples.get(i - 1);
            Sample after = samples.get(i);
            double seconds = Duration.between(before.at(), after.at()).toMillis() / 1000.0;
            if (seconds <= 0) {
                continue;
            }
            // counts fall when retention removes finished jobs: a fall is no negative work
            long delta = Math.max(0, total(after, key, value) - total(before, key, value));
            points.add(new double[] {after.at().toEpochMilli(), delta * 60.0 / seconds});
        }
        return points;
    }

    /** A value at each sample, for one queue (key) or summed over all (null). */
    static List<double[]> level(List<Sample> samples, String key, java.util.function.ToLongFunction<Counts> value) {
        List<double[]> points = new ArrayList<>();
        for (Sample s : samples) {
            points.add(new double[] {s.at().toEpochMilli(), total(s, key, value)});
        }
        return points;
    }

    private static long total(Sample sample, String key, java.util.function.ToLongFunction<Counts> value) {
        if (key != null) {
            Counts c = sample.byQueue().get(key);
            return c == null ? 0 : value.applyAsLong(c);
        }
        long sum = 0;
        for (Counts c : sample.byQueue().values()) {
            sum += value.applyAsLong(c);
        }
        return sum;
    }
}
