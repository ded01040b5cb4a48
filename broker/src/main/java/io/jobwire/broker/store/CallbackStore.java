package io.jobwire.broker.store;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;

/**
 * The callback outbox: deliveries are written by triggers in the commit of the change that causes them
 * (V13), taken here by any broker with SKIP LOCKED, and their attempts recorded. Also the owners' signing
 * secrets.
 */
public final class CallbackStore {
    /** A delivery as stored, with its attempts when they were asked for. */
    public record Delivery(long id, long jobId, String owner, String url, String event, String state, int attempts,
                           Instant createdAt, Instant nextAttemptAt, Instant finishedAt, Integer lastStatus,
                           String lastError, List<Attempt> attemptList) {
        Delivery withAttempts(List<Attempt> list) {
            return new Delivery(id, jobId, owner, url, event, state, attempts, createdAt, nextAttemptAt, finishedAt,
                    lastStatus, lastError, List.copyOf(list));
        }
    }

    /** One attempt of a delivery. */
    public record Attempt(int attempt, Instant at, long tookMs, Integer httpStatus, String response, String error) {
    }

    /**
     * A delivery taken for one attempt: where, which event, the job as the event left it, and the secrets
     * that sign it (the previous one only while it still signs).
     */
    public record Taken(long id, String url, String event, int attempt, Instant createdAt, String owner, JobRecord job,
                        boolean payloadOmitted, String secret, String previousSecret) {
    }

    /** How an attempt ended, to record. */
    public record Outcome(long id, int attempt, long tookMs, Integer status, String response, String error,
                          boolean delivered, boolean retryable, long delayMs) {
    }

    /** An owner's signing secret, and until when the previous one signs too (null: it does not). */
    public record Secret(String owner, String secret, Instant previousUntil) {
    }

    private final Jdbi jdbi;
    private final JobRowMapper jobs;

    public CallbackStore(Jdbi jdbi, ObjectMapper json) {
        this.jdbi = jdbi;
        this.jobs = new JobRowMapper(json);
    }

    /** Takes up to {@code limit} due deliveries for this broker, each held for {@code claim}. */
    public List<Taken> take(int limit, Duration claim, Duration retryFor) {
        return jdbi.inTransaction(handle -> handle.createQuery(Sql.load(CallbackStore.class, "claim_callbacks"))
                .bind("limit", limit)
                .bind("retryForMs", retryFor.toMillis())
                .bind("claimMs", claim.toMillis())
                .map((rs, ctx) -> new Taken(rs.getLong("delivery_id"), rs.getString("delivery_url"),
                        rs.getString("delivery_event"), rs.getInt("delivery_attempt"),
                        JobRowMapper.instant(rs, "delivery_created_at"), rs.getString("delivery_owner"),
                        jobs.map(rs, ctx), rs.getBoolean("payload_omitted"), rs.getString("secret"),
                        rs.getString("previous_secret")))
                .list());
    }

    /**
     * Records an attempt; returns the delivery's state after it, or empty when the attempt no longer held the
     * delivery (it outlived its claim): then only the attempt is kept.
     */
    public Optional<String> record(Outcome outcome, Duration retryFor) {
        return jdbi.inTransaction(handle -> handle.createQuery(Sql.load(CallbackStore.class, "record_callback_attempt"))
                .bind("id", outcome.id())
                .bind("attempt", outcome.attempt())
                .bind("tookMs", outcome.tookMs())
                .bind("status", outcome.status())
                .bind("response", outcome.response())
                .bind("error", outcome.error())
                .bind("delivered", outcome.delivered())
                .bind("retryable", outcome.retryable())
                .bind("delayMs", outcome.delayMs())
                .bind("retryForMs", retryFor.toMillis())
                .mapTo(String.class)
                .findOne());
    }

    /** The deliveries of these jobs with their attempts, by job id, oldest first. */
    public Map<Long, List<Delivery>> ofJobs(List<Long> jobIds) {
        Map<Long, List<Delivery>> byJob = new LinkedHashMap<>();
        if (jobIds.isEmpty()) {
            return byJob;
        }
        List<Delivery> found = withAttempts(jdbi.withHandle(handle -> handle
                .createQuery(Sql.load(CallbackStore.class, "callbacks_of_jobs"))
                .bind("jobIds", jobIds.toArray(Long[]::new))
                .map((rs, ctx) -> delivery(rs))
                .list()));
        found.forEach(delivery -> byJob.computeIfAbsent(delivery.jobId(), id -> new ArrayList<>()).add(delivery));
        return byJob;
    }

    /** One page of deliveries, newest first, with their attempts. */
    public List<Delivery> list(String owner, Long jobId, boolean failing, Long beforeId, int limit) {
        return withAttempts(jdbi.withHandle(handle -> handle.createQuery(Sql.load(CallbackStore.class, "list_callbacks"))
                .bind("owner", owner)
                .bind("jobId", jobId)
                .bind("failing", failing)
                .bind("beforeId", beforeId)
                .bind("limit", limit)
                .map((rs, ctx) -> delivery(rs))
                .list()));
    }

    /** One delivery with its attempts, if it exists and {@code owner} (null: anyone) may see it. */
    public Optional<Delivery> get(long id, String owner) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(CallbackStore.class, "callback_delivery"))
                .bind("id", id)
                .bind("owner", owner)
                .map((rs, ctx) -> delivery(rs))
                .findOne())
                .map(delivery -> withAttempts(List.of(delivery)).get(0));
    }

    /** Makes a delivered or failed delivery pending again, due now; empty if none such (or still pending). */
    public Optional<Delivery> redeliver(long id, String owner, Duration retryFor) {
        return jdbi.inTransaction(handle -> handle.createQuery(Sql.load(CallbackStore.class, "redeliver_callback"))
                .bind("id", id)
                .bind("owner", owner)
                .bind("retryForMs", retryFor.toMillis())
                .map((rs, ctx) -> delivery(rs))
                .findOne())
                .map(delivery -> withAttempts(List.of(delivery)).get(0));
    }

    /** The owner's secret, made from {@code fresh} if it has none; with {@code rotate}, replaced by it. */
    public Secret secret(String owner, String fresh, boolean rotate) {
        return jdbi.inTransaction(handle -> handle.createQuery(Sql.load(CallbackStore.class, "callback_secret"))
                .bind("owner", owner)
                .bind("secret", fresh)
                .bind("rotate", rotate)
                .map((rs, ctx) -> new Secret(rs.getString("owner"), rs.getString("secret"),
                        JobRowMapper.instant(rs, "previous_until")))
                .one());
    }

    /** Removes finished deliveries older than {@code retention}, at most {@code batch}; how many. */
    public int prune(Duration retention, int batch) {
        return jdbi.withHandle(handle -> handle.createUpdate(Sql.load(CallbackStore.class, "prune_callbacks"))
                .bind("retentionMs", retention.toMillis())
                .bind("batch", batch)
                .execute());
    }

    private List<Delivery> withAttempts(List<Delivery> deliveries) {
        if (deliveries.isEmpty()) {
            return deliveries;
        }
        Map<Long, List<Attempt>> byDelivery = new LinkedHashMap<>();
        jdbi.useHandle(handle -> handle.createQuery(Sql.load(CallbackStore.class, "callback_attempts_of"))
                .bind("ids", deliveries.stream().map(Delivery::id).toArray(Long[]::new))
                .map((rs, ctx) -> {
                    byDelivery.computeIfAbsent(rs.getLong("delivery_id"), id -> new ArrayList<>()).add(new Attempt(
                            rs.getInt("attempt"), JobRowMapper.instant(rs, "at"), rs.getLong("took_ms"),
                            nullableInt(rs, "http_status"), rs.getString("response"), rs.getString("error")));
                    return 0;
                })
                .list());
        return deliveries.stream().map(d -> d.withAttempts(byDelivery.getOrDefault(d.id(), List.of()))).toList();
    }

    private static Delivery delivery(ResultSet rs) throws SQLException {
        return new Delivery(rs.getLong("id"), rs.getLong("job_id"), rs.getString("owner"), rs.getString("url"),
                rs.getString("event"), rs.getString("state"), rs.getInt("attempts"),
                JobRowMapper.instant(rs, "created_at"), JobRowMapper.instant(rs, "next_attempt_at"),
                JobRowMapper.instant(rs, "finished_at"), nullableInt(rs, "last_status"), rs.getString("last_error"),
                List.of());
    }

    private static Integer nullableInt(ResultSet rs, String column) throws SQLException {
        int value = rs.getInt(column);
        return rs.wasNull() ? null : value;
    }
}
