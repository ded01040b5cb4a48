package io.jobwire.broker.store;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches what holds back vacuum in the broker's database: the oldest open transaction or snapshot (a
 * report, a forgotten {@code BEGIN} in psql, a {@code pg_dump}, a standby's feedback, a prepared
 * transaction). Claims do not slow down under one (the ready ring is emptied with {@code TRUNCATE}), but
 * {@code live_jobs} and every other table keep each row version written meanwhile until it ends: the
 * operator should hear of it. Each {@link #check} reads the statistics views ({@code horizon_holder.sql},
 * no lock), keeps the holder's age for {@code jobwire_database_oldest_transaction_age_seconds}, logs a
 * warning naming it once it is older than {@code warnAfter} (once per holder), and a line when it ends.
 *
 * <p>The age is the server's, from the transaction's start, where the server shows it; a session of
 * another role shows its start only to superusers and members of {@code pg_read_all_stats}, and then the
 * age is counted from when this watch first saw that holder, on the injected clock.
 */
public final class HorizonWatch {
    private static final Logger log = LoggerFactory.getLogger(HorizonWatch.class);
    /** How long a transaction may hold back vacuum before the log names it. */
    public static final Duration DEFAULT_WARN_AFTER = Duration.ofMinutes(5);

    /**
     * The oldest holder: what it is, who (application, role, address), its state, the transaction's id (or,
     * if it wrote nothing, its snapshot's xmin), and how long it has held.
     */
    public record Holder(String kind, Integer pid, String who, String state, String xmin, Duration age) {
        /** Tells one holder from the next: the same session with a new transaction is another holder. */
        private String key() {
            return HorizonWatch.key(kind, pid, who, xmin);
        }

        @Override
        public String toString() {
            return kind + (pid == null ? "" : " " + pid) + " (" + who + (state == null ? "" : ", " + state) + ")";
        }
    }

    private record Row(String kind, Integer pid, String who, String state, Double seconds, String xmin) {
    }

    /** A session (or walsender) by its pid and transaction; a slot or prepared transaction by its name. */
    private static String key(String kind, Integer pid, String who, String xmin) {
        return kind + "|" + pid + "|" + (pid == null ? who : "") + "|" + xmin;
    }

    private final Jdbi jdbi;
    private final Clock clock;
    private final Duration warnAfter;
    private String seenKey;
    private Instant seenSince;
    private Holder warned;
    private volatile double oldestSeconds;

    public HorizonWatch(Jdbi jdbi, Clock clock, Duration warnAfter) {
        this.jdbi = jdbi;
        this.clock = clock;
        this.warnAfter = warnAfter;
    }

    /** Looks once: the oldest holder now, if any. Run by one maintenance thread at a time. */
    public synchronized Optional<Holder> check() {
        Optional<Row> row = jdbi.withHandle(handle -> handle.createQuery(Sql.load(HorizonWatch.class, "horizon_holder"))
                .map((rs, ctx) -> new Row(rs.getString("kind"), (Integer) rs.getObject("pid"), rs.getString("who"),
                        rs.getString("state"), (Double) rs.getObject("seconds"), rs.getString("xmin")))
                .findOne());
        Instant now = clock.instant();
        Optional<Holder> holder = row.map(r -> {
            String key = key(r.kind(), r.pid(), r.who(), r.xmin());
            if (!key.equals(seenKey)) {
                seenKey = key;
                seenSince = now;
            }
            Duration age = r.seconds() != null ? Duration.ofMillis(Math.max(0, Math.round(r.seconds() * 1000)))
                    : Duration.between(seenSince, now);
            return new Holder(r.kind(), r.pid(), r.who(), r.state(), r.xmin(), age);
        });
        if (holder.isEmpty()) {
            seenKey = null;
        }
        oldestSeconds = holder.map(h -> h.age().toMillis() / 1000.0).orElse(0.0);
        if (warned != null) {
            Optional<Holder> same = holder.filter(h -> h.key().equals(warned.key()));
            if (same.isPresent()) {
                warned = same.get();
            } else {
                log.info("vacuum is no longer held back by {} (it held it for {} s or more)", warned, warned.age().toSeconds());
                warned = null;
            }
        }
        if (warned == null) {
            holder.filter(h -> h.age().compareTo(warnAfter) >= 0).ifPresent(h -> {
                warned = h;
                log.warn("{} has held back vacuum for {} s: every table keeps each row version written since, and "
                        + "live_jobs grows until it ends (claims are not slowed); end it if it is not needed",
                        h, h.age().toSeconds());
            });
        }
        return holder;
    }

    /** The age of the oldest holder at the last check, in seconds (0 if none). */
    public double oldestSeconds() {
        return oldestSeconds;
    }
}
