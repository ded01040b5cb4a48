package io.jobwire.broker.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Quotas ({@code quotas}, {@code quota_usage}): set and read by admins, and counted inside each submit's
 * transaction ({@link JobStore#insertUnderQuotas}) so that no race between submitters, on one broker or
 * many, lets a job past a limit.
 */
public final class QuotaStore {
    private final Jdbi jdbi;

    public QuotaStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** The limits of one owner over the types a pattern covers; a null limit is no limit. */
    public record Quota(String owner, String typePattern, Integer maxWaiting, Integer perMinute, Integer perHour,
                        Integer perDay, String setBy, Instant setAt) {
        /** Every type ("*"), the types under a prefix ("email.*"), or one type ("email.send"). */
        public boolean covers(String type) {
            if (typePattern.equals("*")) {
                return true;
            }
            return typePattern.endsWith("*") ? type.startsWith(typePattern.substring(0, typePattern.length() - 1))
                    : type.equals(typePattern);
        }

        /** The pattern as SQL LIKE (escape character backslash), or null for every type. */
        String typeLike() {
            if (typePattern.equals("*")) {
                return null;
            }
            boolean prefix = typePattern.endsWith("*");
            String fixed = prefix ? typePattern.substring(0, typePattern.length() - 1) : typePattern;
            String escaped = fixed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
            return prefix ? escaped + "%" : escaped;
        }

        boolean limitsRate() {
            return perMinute != null || perHour != null || perDay != null;
        }
    }

    /** One rolling window of a quota: its span, its limit, and the buckets in it now. */
    public enum Window {
        MINUTE("second", Duration.ofMinutes(1)),
        HOUR("minute", Duration.ofHours(1)),
        DAY("hour", Duration.ofDays(1));

        /** The span of the buckets it is counted in ({@code quota_usage.span}). */
        final String bucketSpan;
        public final Duration length;

        Window(String bucketSpan, Duration length) {
            this.bucketSpan = bucketSpan;
            this.length = length;
        }

        static Window countedIn(String bucketSpan) {
            for (Window window : values()) {
                if (window.bucketSpan.equals(bucketSpan)) {
                    return window;
                }
            }
            throw new IllegalStateException("no window is counted in buckets of a " + bucketSpan);
        }

        Integer limitOf(Quota quota) {
            return switch (this) {
                case MINUTE -> quota.perMinute();
                case HOUR -> quota.perHour();
                case DAY -> quota.perDay();
            };
        }
    }

    /** A quota and what is used of it now: jobs waiting or running, and jobs submitted in each window. */
    public record Usage(Quota quota, long waiting, Map<Window, Long> submitted, Map<Window, Instant> nextFreedAt,
                        Instant takenAt) {
    }

    private record Bucket(Instant start, long submitted) {
    }

    // ---------------------------------------------------------------- admin

    public Quota set(Quota quota) {
        return jdbi.inTransaction(handle -> {
            Quota stored = handle.createQuery(Sql.load(QuotaStore.class, "set_quota"))
                    .bind("owner", quota.owner())
                    .bind("pattern", quota.typePattern())
                    .bind("maxWaiting", quota.maxWaiting())
                    .bind("perMinute", quota.perMinute())
                    .bind("perHour", quota.perHour())
                    .bind("perDay", quota.perDay())
                    .bind("setBy", quota.setBy())
                    .map((rs, ctx) -> read(rs))
                    .one();
            handle.createUpdate(Sql.load(QuotaStore.class, "bump_quotas_epoch")).execute();
            return stored;
        });
    }

    public Optional<Quota> delete(String owner, String pattern) {
        return jdbi.inTransaction(handle -> {
            Optional<Quota> removed = handle.createQuery(Sql.load(QuotaStore.class, "delete_quota"))
                    .bind("owner", owner)
                    .bind("pattern", pattern)
                    .map((rs, ctx) -> read(rs))
                    .findOne();
            if (removed.isPresent()) {
                handle.createUpdate(Sql.load(QuotaStore.class, "bump_quotas_epoch")).execute();
            }
            return removed;
        });
    }

    public List<Quota> all() {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(QuotaStore.class, "all_quotas"))
                .map((rs, ctx) -> read(rs))
                .list());
    }

    /** Moves with every change of the quotas, on any broker. */
    public long epoch() {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(QuotaStore.class, "quotas_epoch"))
                .mapTo(Long.class)
                .one());
    }

    /** What is used of each quota now, in one snapshot. */
    public List<Usage> usage(List<Quota> quotas) {
        if (quotas.isEmpty()) {
            return List.of();
        }
        return jdbi.inTransaction(org.jdbi.v3.core.transaction.TransactionIsolationLevel.REPEATABLE_READ, handle -> {
            // Before the snapshot (a LOCK takes none): the ring empties count delta segments with TRUNCATE,
            // which is not MVCC-safe; a segment emptied after this snapshot would read empty here while
            // job_counts would not yet hold what was rolled up out of it.
            handle.execute("LOCK TABLE job_count_deltas IN ACCESS SHARE MODE");
            Map<Quota, List<List<Bucket>>> windows = windows(handle, quotas);
            Instant takenAt = takenAt(handle);
            List<Usage> usage = new ArrayList<>();
            for (Quota quota : quotas) {
                long waiting = waiting(handle, quota);
                Map<Window, Long> submitted = new LinkedHashMap<>();
                Map<Window, Instant> freed = new LinkedHashMap<>();
                List<List<Bucket>> buckets = windows.get(quota);
                for (Window window : Window.values()) {
                    List<Bucket> in = buckets.get(window.ordinal());
                    submitted.put(window, in.stream().mapToLong(Bucket::submitted).sum());
                    if (!in.isEmpty()) {
                        freed.put(window, in.get(0).start().plus(window.length));
                    }
                }
                usage.add(new Usage(quota, waiting, submitted, freed, takenAt));
            }
            return usage;
        });
    }

    /** Removes the buckets no window reaches any more (from housekeeping). */
    public int prune() {
        return jdbi.withHandle(handle -> handle.createUpdate(Sql.load(QuotaStore.class, "prune_quota_usage")).execute());
    }

    // ---------------------------------------------------------------- inside a submit's transaction

    /**
     * What is used of the quotas a transaction has locked, kept up to date as it takes submits: opened
     * with {@link #open}, asked with {@link #take} for each submit in order, written with {@link #charge}.
     */
    static final class Ledger {
        private final Handle handle;
        private final List<Quota> locked;
        private final Instant now;
        private final Map<Quota, Long> waiting = new LinkedHashMap<>();
        private final Map<Quota, List<List<Bucket>>> windows;
        private final Map<Quota, long[]> inWindows = new LinkedHashMap<>();
        private final Map<Quota, Long> taken = new LinkedHashMap<>();

        private Ledger(Handle handle, List<Quota> locked) {
            this.handle = handle;
            this.locked = locked;
            this.now = takenAt(handle);
            for (Quota quota : locked) {
                if (quota.maxWaiting() != null) {
                    waiting.put(quota, QuotaStore.waiting(handle, quota));
                }
            }
            List<Quota> rated = locked.stream().filter(Quota::limitsRate).toList();
            this.windows = rated.isEmpty() ? Map.of() : QuotaStore.windows(handle, rated);
            windows.forEach((quota, buckets) -> inWindows.put(quota, new long[] {
                    sum(buckets.get(0)), sum(buckets.get(1)), sum(buckets.get(2))}));
        }

        private static long sum(List<Bucket> buckets) {
            return buckets.stream().mapToLong(Bucket::submitted).sum();
        }

        /**
         * Takes a submit's new jobs if they fit every limit that covers them (and counts them), or says
         * which limit refuses them (and counts nothing).
         */
        QuotaExceededException take(List<NewJob> jobs) {
            Map<Quota, Integer> asked = new LinkedHashMap<>();
            for (Quota quota : locked) {
                int n = (int) jobs.stream().filter(job -> job.owner().equals(quota.owner()) && quota.covers(job.type()))
                        .count();
                if (n > 0) {
                    asked.put(quota, n);
                }
            }
            for (Map.Entry<Quota, Integer> entry : asked.entrySet()) {
                Quota quota = entry.getKey();
                int n = entry.getValue();
                if (quota.maxWaiting() != null && waiting.get(quota) + n > quota.maxWaiting()) {
                    return new QuotaExceededException(quota, "max-waiting", quota.maxWaiting(), waiting.get(quota), n,
                            null, now);
                }
                for (Window window : Window.values()) {
                    Integer limit = window.limitOf(quota);
                    if (limit == null) {
                        continue;
                    }
                    long used = inWindows.get(quota)[window.ordinal()];
                    if (used + n > limit) {
                        return new QuotaExceededException(quota, "per-" + window.name().toLowerCase(java.util.Locale.ROOT),
                                limit, used, n, n > limit ? null
                                        : freedAt(windows.get(quota).get(window.ordinal()), used + n - limit, window, now),
                                now);
                    }
                }
            }
            asked.forEach((quota, n) -> {
                waiting.computeIfPresent(quota, (q, w) -> w + n);
                long[] used = inWindows.get(quota);
                if (used != null) {
                    for (int w = 0; w < used.length; w++) {
                        used[w] += n;
                    }
                }
                taken.merge(quota, (long) n, Long::sum);
            });
            return null;
        }

        /** Writes what was taken into the window buckets. */
        void charge() {
            taken.forEach((quota, n) -> {
                if (n > 0 && quota.limitsRate()) {
                    handle.createUpdate(Sql.load(QuotaStore.class, "charge_quota"))
                            .bind("owner", quota.owner())
                            .bind("pattern", quota.typePattern())
                            .bind("submitted", n)
                            .execute();
                }
            });
        }
    }

    /** Locks the quotas (those still there), in the one order every broker uses, and reads what is used. */
    static Ledger open(Handle handle, List<Quota> quotas) {
        List<Quota> locked = handle.createQuery(Sql.load(QuotaStore.class, "lock_quotas"))
                .bind("owners", quotas.stream().map(Quota::owner).toArray(String[]::new))
                .bind("patterns", quotas.stream().map(Quota::typePattern).toArray(String[]::new))
                .map((rs, ctx) -> read(rs))
                .list();
        return new Ledger(handle, locked);
    }

    /**
     * When enough of the window's oldest buckets have left it for {@code excess} more jobs to fit; the
     * window's length from now when the stored buckets are not enough (what this transaction adds is
     * newer than all of them).
     */
    private static Instant freedAt(List<Bucket> buckets, long excess, Window window, Instant now) {
        long dropped = 0;
        for (Bucket bucket : buckets) {
            dropped += bucket.submitted();
            if (dropped >= excess) {
                return bucket.start().plus(window.length);
            }
        }
        return now.plus(window.length);
    }

    private static long waiting(Handle handle, Quota quota) {
        return handle.createQuery(Sql.load(QuotaStore.class, "quota_waiting"))
                .bind("owner", quota.owner())
                .bind("typeLike", quota.typeLike())
                .mapTo(Long.class)
                .one();
    }

    /** For each quota, the buckets of each window (indexed by {@link Window#ordinal()}), oldest first. */
    private static Map<Quota, List<List<Bucket>>> windows(Handle handle, List<Quota> quotas) {
        Map<String, Quota> byKey = new LinkedHashMap<>();
        Map<Quota, List<List<Bucket>>> windows = new LinkedHashMap<>();
        for (Quota quota : quotas) {
            byKey.put(quota.owner() + "\n" + quota.typePattern(), quota);
            windows.put(quota, List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>()));
        }
        handle.createQuery(Sql.load(QuotaStore.class, "quota_windows"))
                .bind("owners", quotas.stream().map(Quota::owner).toArray(String[]::new))
                .bind("patterns", quotas.stream().map(Quota::typePattern).toArray(String[]::new))
                .map((rs, ctx) -> {
                    Quota quota = byKey.get(rs.getString("owner") + "\n" + rs.getString("type_pattern"));
                    Window window = Window.countedIn(rs.getString("span"));
                    windows.get(quota).get(window.ordinal()).add(new Bucket(rs.getTimestamp("bucket").toInstant(),
                            rs.getLong("submitted")));
                    return null;
                })
                .list();
        return windows;
    }

    private static Instant takenAt(Handle handle) {
        return handle.createQuery("SELECT now()").mapTo(java.time.OffsetDateTime.class).one().toInstant();
    }

    private static Quota read(ResultSet rs) throws SQLException {
        return new Quota(rs.getString("owner"), rs.getString("type_pattern"), (Integer) rs.getObject("max_waiting"),
                (Integer) rs.getObject("per_minute"), (Integer) rs.getObject("per_hour"),
                (Integer) rs.getObject("per_day"), rs.getString("set_by"), rs.getTimestamp("set_at").toInstant());
    }
}
