package io.jobwire.broker.store;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.mapper.RowMapper;

/**
 * Rate limits (see V19): a token bucket per rate key in {@code rate_limits}, and the admission of the
 * keys' waiting jobs into the ready ring, one token per start. Admission locks the keys' rows, then
 * refills, spends and admits in a statement of its own, so however many brokers admit at once a key never
 * starts more than its limit allows.
 */
public final class RateLimits {
    /** Waiting entries looked at per key and pass, at most. */
    static final int WALK = 1_000;
    /** Entries looked at beyond a key's tokens: to tell whether more wait, and to step over stale ones. */
    static final int SLACK = 16;

    /** A key's limit; {@code tokens} and {@code waiting} as of the read that returned it. */
    public record Limit(String key, double perSecond, int burst, String setBy, Instant setAt, double tokens, long waiting) {
    }

    /**
     * What a pass did for one key: jobs admitted, due jobs still waiting (of those it looked at), the
     * tokens left, the key's rate (NaN for a key with no limit) and its jobs admitted but not started.
     */
    public record Pass(String key, int admitted, long waiting, double tokens, double perSecond, int burst, int held) {
        public boolean limited() {
            return !Double.isNaN(perSecond);
        }
    }

    private static final RowMapper<Limit> LIMITS = (rs, ctx) -> new Limit(rs.getString("key"), rs.getDouble("per_second"),
            rs.getInt("burst"), rs.getString("set_by"), JobRowMapper.instant(rs, "set_at"), rs.getDouble("tokens"),
            rs.getLong("waiting"));

    private final Jdbi jdbi;

    public RateLimits(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Sets the key's limit; returns it as stored. */
    public Limit set(String key, double perSecond, int burst, String setBy) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(RateLimits.class, "set_rate_limit"))
                .bind("key", key)
                .bind("perSecond", perSecond)
                .bind("burst", burst)
                .bind("setBy", setBy)
                .map(LIMITS)
                .one());
    }

    /** Deletes the key's limit; empty when it had none. */
    public Optional<Limit> delete(String key) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(RateLimits.class, "delete_rate_limit"))
                .bind("key", key)
                .map(LIMITS)
                .findOne());
    }

    /** Every limit by key, with the jobs waiting for it (of {@code owner} only, unless null). */
    public List<Limit> list(String owner) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(RateLimits.class, "list_rate_limits"))
                .bind("owner", owner)
                .map(LIMITS)
                .list());
    }

    /** Of these keys, those that have a limit. */
    public List<String> known(Collection<String> keys) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(RateLimits.class, "known_rate_keys"))
                .bind("keys", keys.toArray(String[]::new))
                .mapTo(String.class)
                .list());
    }

    /** Admits what the keys' tokens allow; a pass for each key. */
    public List<Pass> admit(Collection<String> keys) {
        if (keys.isEmpty()) {
            return List.of();
        }
        String[] sorted = keys.stream().distinct().sorted().toArray(String[]::new);
        return jdbi.inTransaction(handle -> {
            handle.createQuery(Sql.load(RateLimits.class, "lock_rates"))
                    .bind("keys", sorted)
                    .mapTo(Long.class)
                    .one();
            return handle.createQuery(Sql.load(RateLimits.class, "admit_rates"))
                    .bind("keys", sorted)
                    .bind("walk", WALK)
                    .bind("slack", SLACK)
                    .map((rs, ctx) -> {
                        Object rate = rs.getObject("per_second");
                        return new Pass(rs.getString("key"), rs.getInt("admitted"), rs.getLong("waiting"),
                                rate == null ? 0 : rs.getDouble("tokens"), rate == null ? Double.NaN : ((Number) rate).doubleValue(),
                                rs.getInt("burst"), rs.getInt("held"));
                    })
                    .list();
        });
    }

    /** Every rate key with jobs waiting, in key order, a page of {@code limit} at a time. */
    public List<String> waitingKeys(String after, int limit) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(RateLimits.class, "waiting_rates"))
                .bind("after", after)
                .bind("limit", limit)
                .mapTo(String.class)
                .collect(java.util.stream.Collectors.toCollection(ArrayList::new)));
    }
}
