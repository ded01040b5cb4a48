package io.jobwire.broker.store;

import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the queue tables healthy: keeps history partitions ready ahead of the clock and drops those past
 * the retention (see {@link HistoryPartitions}); deletes the finished jobs past their retention that no
 * such partition holds in small batches (and worker ids not seen for as long, so another principal may
 * take them); and
 * refreshes planner statistics when the tables changed much faster than autovacuum's analyze keeps up
 * with (a burst of a million jobs in the first minute of a new deployment), but not every pass for a
 * steady stream through a small table: an ANALYZE takes a core for a third of a second.
 */
public final class Housekeeping {
    private static final Logger log = LoggerFactory.getLogger(Housekeeping.class);
    /** Rows deleted per transaction. */
    static final int PRUNE_BATCH = 1_000;
    /** At most this many batches per pass, so one pass stays short; the next pass goes on. */
    private static final int MAX_BATCHES_PER_PASS = 50;
    private static final long MIN_CHANGES_FOR_ANALYZE = 10_000;
    /** How long summarizing a partition's BRIN index waits for autovacuum's hold on the table. */
    private static final int SUMMARIZE_LOCK_WAIT_MS = 100;
    private static final java.util.Set<String> INSUFFICIENT_PRIVILEGE = java.util.Set.of("42501");
    /** Between two analyzes of a table that has not outgrown its statistics (see stale_statistics.sql). */
    static final Duration MIN_ANALYZE_INTERVAL = Duration.ofMinutes(1);

    private final Jdbi jdbi;
    private final Duration retention;
    private final Clock clock;
    private final Duration minAnalyzeInterval;
    private final HistoryPartitions partitions;

    /** @param retention zero: keep finished jobs forever */
    public Housekeeping(Jdbi jdbi, Duration retention, Clock clock) {
        this(jdbi, retention, clock, MIN_ANALYZE_INTERVAL);
    }

    Housekeeping(Jdbi jdbi, Duration retention, Clock clock, Duration minAnalyzeInterval) {
        this.jdbi = jdbi;
        this.retention = retention;
        this.clock = clock;
        this.minAnalyzeInterval = minAnalyzeInterval;
        this.partitions = new HistoryPartitions(jdbi, retention);
    }

    public HistoryPartitions partitions() {
        return partitions;
    }

    /** One pass: partitions ahead, retention, statistics. */
    public void pass() {
        partitions.ensureAhead();
        prune();
        refreshStatistics();
    }

    /**
     * Removes finished jobs older than the retention (by the injected clock): whole history partitions, then
     * row by row what the default partition (and the history found by migration V8) hold. Returns how many
     * jobs went row by row.
     */
    public long prune() {
        if (retention.isZero()) {
            return 0;
        }
        OffsetDateTime cutoff = OffsetDateTime.ofInstant(clock.instant().minus(retention), ZoneOffset.UTC);
        partitions.dropBefore(cutoff.toInstant());
        List<String> rowByRow = new java.util.ArrayList<>(List.of("job_history_default"));
        partitions.parts().stream()
                .filter(part -> part.starts().isEmpty())
                .forEach(part -> rowByRow.add(part.name()));
        long total = 0;
        for (String partition : rowByRow) {
            total += prune(partition, cutoff);
        }
        if (total > 0) {
            log.info("pruned {} jobs finished before {}", total, cutoff.toInstant());
        }
        jdbi.useHandle(handle -> handle.createUpdate(Sql.load(Housekeeping.class, "prune_worker_ids"))
                .bind("cutoff", cutoff)
                .execute());
        return total;
    }

    private long prune(String partition, OffsetDateTime cutoff) {
        if (!summarize(partition)) {
            return 0;
        }
        String sql = Sql.load(Housekeeping.class, "prune_finished").replace("{partition}", partition);
        long total = 0;
        for (int i = 0; i < MAX_BATCHES_PER_PASS; i++) {
            long deleted = jdbi.inTransaction(handle -> {
                // Through the BRIN index, never a scan of the whole partition (which finds nothing, mostly).
                handle.execute("SET LOCAL enable_seqscan = off");
                return handle.createQuery(sql)
                        .bind("cutoff", cutoff)
                        .bind("limit", PRUNE_BATCH)
                        .mapTo(Long.class)
                        .one();
            });
            total += deleted;
            if (deleted < PRUNE_BATCH) {
                break;
            }
        }
        return total;
    }

    /**
     * Summarizes the page ranges of the partition's BRIN index filled since it was last summarized, so that
     * the prune's scan reads none of them: a range with no summary is read whole by every scan, and
     * autovacuum summarizes new ranges only when it gets to them (a busy one, or one held back by a long
     * transaction, lets thousands pile up: the bench's fresh database read its first hour of history every
     * ten seconds). False if autovacuum (or another broker) holds the table now: the prune waits a pass.
     */
    private boolean summarize(String partition) {
        try {
            return Turns.take(jdbi, "jobwire.history.summarize", partition, SUMMARIZE_LOCK_WAIT_MS, handle ->
                    handle.createQuery("SELECT brin_summarize_new_values(i.indexrelid) FROM pg_index i "
                                    + "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                                    + "WHERE i.indrelid = CAST(:partition AS regclass) AND a.amname = 'brin'")
                            .bind("partition", partition)
                            .mapTo(Long.class)
                            .list()).isPresent();
        } catch (JdbiException e) {
            if (Transactions.hasSqlState(e, INSUFFICIENT_PRIVILEGE)) { // the broker's role does not own the table: prune as is
                log.debug("{}: may not summarize its BRIN index ({})", partition, e.getMessage());
                return true;
            }
            throw e;
        }
    }

    /** Analyzes the tables whose statistics are stale; returns their names. */
    public List<String> refreshStatistics() {
        List<String> stale = jdbi.withHandle(handle -> handle.createQuery(Sql.load(Housekeeping.class, "stale_statistics"))
                .bind("minChanges", MIN_CHANGES_FOR_ANALYZE)
                .bind("minIntervalMs", minAnalyzeInterval.toMillis())
                .mapTo(String.class)
                .list());
        for (String table : stale) {
            jdbi.useHandle(handle -> handle.execute("ANALYZE " + table));
            log.debug("analyzed {}", table);
        }
        return stale;
    }
}
