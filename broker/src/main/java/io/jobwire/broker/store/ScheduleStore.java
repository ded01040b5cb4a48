package io.jobwire.broker.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.mapper.RowMapper;

/** The {@code schedules} table: create, list, pause, delete, and the due ones for a firing pass. */
public final class ScheduleStore {
    /** One schedule as stored; {@code jobJson} is the JobSpec each fire submits, in protobuf's JSON form. */
    public record Row(String owner, String name, String type, String jobJson, String cron, String zone, Long everyMs,
                      String missed, boolean paused, Instant nextFireAt, Instant lastFireAt, Long lastJobId, long fires,
                      String lastError, String createdBy, Instant createdAt) {
    }

    /** What firing a schedule did: the next fire, and what the last fire made (nulls leave it as it was). */
    public record Fired(Instant nextFireAt, Instant lastFireAt, Long lastJobId, int fires, String lastError) {
    }

    /** Fires one due schedule: submits its jobs (outside this transaction) and says what it did. */
    @FunctionalInterface
    public interface Firing {
        Fired fire(Row schedule);
    }

    private static final RowMapper<Row> ROWS = (rs, ctx) -> new Row(rs.getString("owner"), rs.getString("name"),
            rs.getString("type"), rs.getString("job"), rs.getString("cron"), rs.getString("zone"),
            nullableLong(rs, "every_ms"), rs.getString("missed"), rs.getBoolean("paused"),
            JobRowMapper.instant(rs, "next_fire_at"), JobRowMapper.instant(rs, "last_fire_at"),
            nullableLong(rs, "last_job_id"), rs.getLong("fires"), rs.getString("last_error"),
            rs.getString("created_by"), JobRowMapper.instant(rs, "created_at"));

    private final Jdbi jdbi;

    public ScheduleStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Creates it; empty when the owner already has a schedule of that name. */
    public Optional<Row> create(Row row) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(ScheduleStore.class, "create_schedule"))
                .bind("owner", row.owner())
                .bind("name", row.name())
                .bind("type", row.type())
                .bind("job", row.jobJson())
                .bind("cron", row.cron())
                .bind("zone", row.zone())
                .bind("everyMs", row.everyMs())
                .bind("missed", row.missed())
                .bind("paused", row.paused())
                .bind("nextFireAt", utc(row.nextFireAt()))
                .bind("createdBy", row.createdBy())
                .bind("createdAt", utc(row.createdAt()))
                .map(ROWS)
                .findOne());
    }

    /** One owner's schedules, or everyone's when owner is null. */
    public List<Row> list(String owner) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(ScheduleStore.class, "list_schedules"))
                .bind("owner", owner)
                .map(ROWS)
                .list());
    }

    /** Pauses or resumes it (resumed: due next at {@code nextFireAt}); empty when there is no such schedule. */
    public Optional<Row> setPaused(String owner, String name, boolean paused, Instant nextFireAt) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(ScheduleStore.class, "pause_schedule"))
                .bind("owner", owner)
                .bind("name", name)
                .bind("paused", paused)
                .bind("nextFireAt", nextFireAt == null ? null : utc(nextFireAt))
                .map(ROWS)
                .findOne());
    }

    public Optional<Row> delete(String owner, String name) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(ScheduleStore.class, "delete_schedule"))
                .bind("owner", owner)
                .bind("name", name)
                .map(ROWS)
                .findOne());
    }

    /**
     * Fires the schedules due at {@code now} (up to {@code limit}) that no other broker is firing: each row
     * stays locked while {@code firing} submits its jobs, and moves on in the same transaction. A failure
     * (the database gone) rolls the rows back: the next pass fires them again, and the jobs' idempotency
     * keys find what was already submitted. Returns how many schedules fired.
     */
    public int fireDue(Instant now, int limit, Firing firing) {
        return jdbi.inTransaction(handle -> {
            List<Row> due = handle.createQuery(Sql.load(ScheduleStore.class, "due_schedules"))
                    .bind("now", utc(now))
                    .bind("limit", limit)
                    .map(ROWS)
                    .list();
            for (Row schedule : due) {
                Fired fired = firing.fire(schedule);
                handle.createUpdate(Sql.load(ScheduleStore.class, "fired_schedule"))
                        .bind("owner", schedule.owner())
                        .bind("name", schedule.name())
                        .bind("nextFireAt", utc(fired.nextFireAt()))
                        .bind("lastFireAt", fired.lastFireAt() == null ? null : utc(fired.lastFireAt()))
                        .bind("lastJobId", fired.lastJobId())
                        .bind("fires", fired.fires())
                        .bind("lastError", fired.lastError())
                        .execute();
            }
            return due.size();
        });
    }

    private static java.time.OffsetDateTime utc(Instant instant) {
        return instant.atOffset(java.time.ZoneOffset.UTC);
    }

    private static Long nullableLong(ResultSet rs, String column) throws SQLException {
        long value = rs.getLong(column);
        return rs.wasNull() ? null : value;
    }
}
