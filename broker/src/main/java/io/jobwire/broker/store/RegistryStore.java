package io.jobwire.broker.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Array;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import org.jdbi.v3.core.Jdbi;

/**
 * The function registry ({@code job_types}) and the live worker sessions of every broker
 * ({@code worker_sessions}), which Stats and ListJobTypes read.
 */
public final class RegistryStore {
    private final Jdbi jdbi;
    private final ObjectMapper json;
    private final String brokerId;
    private final Duration staleAfter;

    /** @param staleAfter a session not refreshed for this long is gone (its broker died) */
    public RegistryStore(Jdbi jdbi, ObjectMapper json, String brokerId, Duration staleAfter) {
        this.jdbi = jdbi;
        this.json = json;
        this.brokerId = brokerId;
        this.staleAfter = staleAfter;
    }

    /** A job type as a worker announces it. */
    public record AnnouncedType(String name, String description, String payloadSchema) {
    }

    public void announce(List<AnnouncedType> types) {
        if (types.isEmpty()) {
            return;
        }
        jdbi.useHandle(handle -> handle.createUpdate(Sql.load(RegistryStore.class, "upsert_job_types"))
                .bind("names", types.stream().map(AnnouncedType::name).toArray(String[]::new))
                .bind("descriptions", types.stream().map(AnnouncedType::description).toArray(String[]::new))
                .bind("schemas", types.stream().map(AnnouncedType::payloadSchema).toArray(String[]::new))
                .execute());
    }

    /** Upserts the given sessions of this broker and marks the types they serve as seen now. */
    public void refreshSessions(Collection<WorkerSessionRecord> sessions) {
        if (sessions.isEmpty()) {
            return;
        }
        List<WorkerSessionRecord> rows = List.copyOf(sessions);
        String[] served = rows.stream().flatMap(s -> s.jobTypes().stream()).distinct().toArray(String[]::new);
        jdbi.useTransaction(handle -> {
            handle.createUpdate(Sql.load(RegistryStore.class, "upsert_worker_sessions"))
                    .bind("brokerId", brokerId)
                    .bind("sessionIds", rows.stream().map(WorkerSessionRecord::sessionId).toArray(String[]::new))
                    .bind("workerIds", rows.stream().map(WorkerSessionRecord::workerId).toArray(String[]::new))
                    .bind("principals", rows.stream().map(WorkerSessionRecord::principal).toArray(String[]::new))
                    .bind("jobTypes", rows.stream().map(s -> toJson(s.jobTypes())).toArray(String[]::new))
                    .bind("queues", rows.stream().map(s -> toJson(s.queues())).toArray(String[]::new))
                    .bind("maxConcurrency", rows.stream().map(WorkerSessionRecord::maxConcurrency).toArray(Integer[]::new))
                    .bind("inFlight", rows.stream().map(WorkerSessionRecord::inFlight).toArray(Integer[]::new))
                    .bind("freeCapacity", rows.stream().map(WorkerSessionRecord::freeCapacity).toArray(Integer[]::new))
                    .execute();
            handle.createUpdate(Sql.load(RegistryStore.class, "touch_job_types"))
                    .bind("names", served)
                    .execute();
        });
    }

    /**
     * Binds {@code workerId} to {@code principal} if no principal has used it yet (or it was forgotten),
     * and notes that it was seen. False when it belongs to another principal.
     */
    public boolean bindWorkerId(String workerId, String principal) {
        String owner = jdbi.withHandle(handle -> handle.createQuery(Sql.load(RegistryStore.class, "bind_worker_id"))
                .bind("workerId", workerId)
                .bind("principal", principal)
                .mapTo(String.class)
                .one());
        return owner.equals(principal);
    }

    public void removeSessions(Collection<String> sessionIds) {
        if (sessionIds.isEmpty()) {
            return;
        }
        jdbi.useHandle(handle -> handle.createUpdate(Sql.load(RegistryStore.class, "delete_worker_sessions"))
                .bind("sessionIds", sessionIds.toArray(String[]::new))
                .execute());
    }

    /** Removes sessions no broker has refreshed within the staleness window. */
    public int purgeStaleSessions() {
        return jdbi.withHandle(handle -> handle.createUpdate(Sql.load(RegistryStore.class, "purge_stale_worker_sessions"))
                .bind("staleMs", staleAfter.toMillis())
                .execute());
    }

    public List<WorkerSessionRecord> liveSessions() {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(RegistryStore.class, "live_worker_sessions"))
                .bind("staleMs", staleAfter.toMillis())
                .map((rs, ctx) -> new WorkerSessionRecord(rs.getString("session_id"), rs.getString("worker_id"),
                        rs.getString("principal"), rs.getString("broker_id"), strings(rs, "job_types"), strings(rs, "queues"),
                        rs.getInt("max_concurrency"), rs.getInt("in_flight"), rs.getInt("free_capacity"),
                        JobRowMapper.instant(rs, "connected_at"), JobRowMapper.instant(rs, "last_seen_at")))
                .list());
    }

    public List<JobTypeRecord> jobTypes() {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(RegistryStore.class, "list_job_types"))
                .bind("staleMs", staleAfter.toMillis())
                .map((rs, ctx) -> new JobTypeRecord(rs.getString("name"), rs.getString("description"),
                        rs.getString("payload_schema"), rs.getInt("workers_online"),
                        JobRowMapper.instant(rs, "first_seen_at"), JobRowMapper.instant(rs, "last_seen_at")))
                .list());
    }

    private static List<String> strings(ResultSet rs, String column) throws SQLException {
        Array array = rs.getArray(column);
        return array == null ? List.of() : Arrays.asList((String[]) array.getArray());
    }

    private String toJson(List<String> values) {
        try {
            return json.writeValueAsString(values);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write list as JSON", e);
        }
    }
}
