package io.jobwire.broker.store;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The partitions of job_history (migration V8): one per span of finish time, created ahead of the clock,
 * and dropped whole, with the counts, attempt records and idempotency keys of their jobs, once every job in
 * them finished before the retention's cutoff. No row-by-row DELETE, no dead rows, no vacuum afterwards.
 *
 * <p>The span is a seventh of the retention in whole hours (a day for the default 7 days), so about eight
 * partitions hold the history and a Get by id probes about eight primary keys. Creating or dropping a
 * partition takes the parent's lock for a moment: it waits at most {@link #LOCK_TIMEOUT_MS} for the
 * statements holding it and tries again on the next pass. Brokers take turns with an advisory lock.
 */
public final class HistoryPartitions {
    private static final Logger log = LoggerFactory.getLogger(HistoryPartitions.class);
    static final Duration MIN_SPAN = Duration.ofHours(1);
    static final Duration MAX_SPAN = Duration.ofDays(7);
    /** Spans of finish time ahead of now that always have their partition. */
    static final int SPANS_AHEAD = 2;
    static final int LOCK_TIMEOUT_MS = 100;
    /** The advisory lock brokers take turns with at creating and dropping partitions. */
    private static final String HISTORY = "jobwire.history";
    private static final DateTimeFormatter NAME = DateTimeFormatter.ofPattern("yyyyMMdd_HH").withZone(ZoneOffset.UTC);

    private final Jdbi jdbi;
    private final Duration span;

    public HistoryPartitions(Jdbi jdbi, Duration retention) {
        this.jdbi = jdbi;
        this.span = spanFor(retention);
    }

    /** A seventh of the retention in whole hours, within [1 hour, 7 days]; 7 days for keep-forever. */
    public static Duration spanFor(Duration retention) {
        if (retention.isZero()) {
            return MAX_SPAN;
        }
        long hours = Math.max(MIN_SPAN.toHours(), retention.dividedBy(7).toHours());
        return Duration.ofHours(Math.min(hours, MAX_SPAN.toHours()));
    }

    public Duration span() {
        return span;
    }

    /** One partition of job_history: finish times in [starts, ends); starts empty: from the beginning. */
    public record Part(String name, Optional<Instant> starts, Instant ends) {
    }

    public List<Part> parts() {
        return jdbi.withHandle(HistoryPartitions::parts);
    }

    private static List<Part> parts(Handle handle) {
        return handle.createQuery("SELECT name, starts, ends FROM job_history_parts ORDER BY ends")
                .map((rs, ctx) -> new Part(rs.getString("name"),
                        Optional.ofNullable(JobRowMapper.instant(rs, "starts")), JobRowMapper.instant(rs, "ends")))
                .list();
    }

    /** Partitions up to {@link #SPANS_AHEAD} spans past the database's clock; returns those it created. */
    public List<String> ensureAhead() {
        Instant now = jdbi.withHandle(handle -> handle.createQuery("SELECT now()")
                .map((rs, ctx) -> JobRowMapper.instant(rs, "now"))
                .one());
        return ensureAhead(now);
    }

    /**
     * Partitions for finish times up to {@code now} plus {@link #SPANS_AHEAD} spans. Each is decided and made
     * in the turn (the partitions are read under it): brokers started together on a new database all come
     * here at once, and one that read the partitions before another made the next must not make it again.
     */
    public List<String> ensureAhead(Instant now) {
        Instant until = now.plus(span.multipliedBy(SPANS_AHEAD));
        List<String> created = new ArrayList<>();
        while (true) {
            Optional<Optional<String>> made = Turns.take(jdbi, HISTORY, null, LOCK_TIMEOUT_MS, handle -> {
                List<Part> parts = parts(handle);
                Instant last = parts.isEmpty() ? hourFloor(now) : parts.get(parts.size() - 1).ends();
                if (!last.isBefore(until)) {
                    return Optional.<String>empty();
                }
                // after a gap of more than a span (no broker ran), start at the hour of now, not at every span missed
                Instant from = Duration.between(last, hourFloor(now)).compareTo(span) > 0 ? hourFloor(now) : last;
                return Optional.of(create(handle, from));
            });
            if (made.isEmpty()) {
                log.debug("another broker is at job_history's partitions, or it is busy: next pass");
                return created;
            }
            if (made.get().isEmpty()) {
                return created;
            }
            created.add(made.get().get());
        }
    }

    private static Instant hourFloor(Instant t) {
        return Instant.ofEpochSecond(Math.floorDiv(t.getEpochSecond(), 3600) * 3600);
    }

    /**
     * Creates the partition from {@code from} to the next multiple of the span since the epoch (or the one
     * after, if that is less than half a span away). Finished jobs the default partition caught in that
     * range (no partition was there for them) stay where they are: the new one starts after them.
     */
    private String create(Handle handle, Instant from) {
        long spanSeconds = span.toSeconds();
        Instant start = from;
        Instant caught = handle.createQuery("SELECT max(finished_at) AS at FROM job_history_default WHERE finished_at >= :from")
                .bind("from", at(from))
                .map((rs, ctx) -> JobRowMapper.instant(rs, "at"))
                .one();
        if (caught != null) {
            start = hourFloor(caught).plus(MIN_SPAN);
        }
        Instant end = Instant.ofEpochSecond((Math.floorDiv(start.getEpochSecond(), spanSeconds) + 1) * spanSeconds);
        if (Duration.between(start, end).compareTo(span.dividedBy(2)) < 0) {
            end = end.plus(span);
        }
        String name = "job_history_" + NAME.format(start);
        handle.execute("CREATE TABLE " + name + " PARTITION OF job_history FOR VALUES FROM ('" + at(start)
                + "') TO ('" + at(end) + "')");
        handle.createUpdate("INSERT INTO job_history_parts (name, starts, ends) VALUES (:name, :starts, :ends)")
                .bind("name", name)
                .bind("starts", at(start))
                .bind("ends", at(end))
                .execute();
        log.info("created history partition {} for jobs finished from {} to {}", name, start, end);
        return name;
    }

    /**
     * Drops each partition whose every job finished before {@code cutoff}, oldest first, with the attempt
     * records and idempotency keys of its jobs and its counts (in the same transaction). Returns the names
     * of those it dropped (not those another broker dropped meanwhile).
     */
    public List<String> dropBefore(Instant cutoff) {
        List<String> dropped = new ArrayList<>();
        for (Part part : parts()) {
            if (part.ends().isAfter(cutoff)) {
                break;
            }
            Optional<Boolean> done = drop(part);
            if (done.isEmpty()) {
                break;
            }
            if (done.get()) {
                dropped.add(part.name());
            }
        }
        return dropped;
    }

    /** True: dropped; false: another broker dropped it first; empty: another broker is at it, or it is busy. */
    private Optional<Boolean> drop(Part part) {
        Optional<Boolean> dropped = Turns.take(jdbi, HISTORY, null, LOCK_TIMEOUT_MS, handle -> {
            // read before the turn: another broker may have dropped it since
            boolean there = handle.createQuery("SELECT count(*) FROM job_history_parts WHERE name = :name")
                    .bind("name", part.name()).mapTo(Long.class).one() > 0;
            if (!there) {
                return false;
            }
            // No write into it (a Retry of one of its jobs) from here on; readers go on.
            handle.execute("LOCK TABLE " + part.name() + " IN SHARE MODE");
            int attempts = handle.execute("DELETE FROM job_attempts a USING " + part.name() + " h WHERE a.job_id = h.id");
            int keys = handle.execute("DELETE FROM job_keys k USING " + part.name() + " h WHERE k.job_id = h.id");
            // Its jobs are counted in the hours of their finish, all within the partition's span.
            handle.createQuery("SELECT pg_advisory_xact_lock(hashtext('" + Ring.COUNTS + "')) IS NULL")
                    .mapTo(Boolean.class)
                    .one();
            String finishedThen = "state IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND bucket < :ends"
                    + (part.starts().isPresent() ? " AND bucket >= :starts" : "");
            for (String table : List.of("job_counts", "job_count_deltas")) {
                handle.createUpdate("DELETE FROM " + table + " WHERE " + finishedThen)
                        .bind("ends", at(part.ends()))
                        .bind("starts", part.starts().map(HistoryPartitions::at).orElse(null))
                        .execute();
            }
            handle.execute("DROP TABLE " + part.name());
            handle.createUpdate("DELETE FROM job_history_parts WHERE name = :name").bind("name", part.name()).execute();
            log.info("dropped history partition {} (jobs finished before {}), {} attempt records, {} keys",
                    part.name(), part.ends(), attempts, keys);
            return true;
        });
        if (dropped.isEmpty()) {
            log.debug("another broker is at job_history's partitions, or {} is busy: next pass", part.name());
        }
        return dropped;
    }

    private static OffsetDateTime at(Instant instant) {
        return OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
    }
}
