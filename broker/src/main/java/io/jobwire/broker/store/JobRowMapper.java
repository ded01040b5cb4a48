package io.jobwire.broker.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.jdbi.v3.core.mapper.RowMapper;
import org.jdbi.v3.core.statement.StatementContext;

/** Maps a {@code jobs} row (all columns) to a {@link JobRecord} without history. */
final class JobRowMapper implements RowMapper<JobRecord> {
    private static final TypeReference<Map<String, String>> LABELS = new TypeReference<>() { };

    private final ObjectMapper json;

    JobRowMapper(ObjectMapper json) {
        this.json = json;
    }

    @Override
    public JobRecord map(ResultSet rs, StatementContext ctx) throws SQLException {
        JobStatus state = JobStatus.valueOf(rs.getString("state"));
        return new JobRecord(
                rs.getLong("id"),
                rs.getString("type"),
                rs.getString("queue"),
                state,
                rs.getInt("priority"),
                instant(rs, "run_at"),
                rs.getString("payload"),
                labels(rs.getString("labels")),
                rs.getString("owner"),
                rs.getString("idempotency_key"),
                rs.getInt("max_attempts"),
                rs.getInt("attempt"),
                rs.getInt("releases"),
                rs.getLong("lease_duration_ms"),
                nullableLong(rs, "retry_initial_ms"),
                nullableLong(rs, "retry_max_ms"),
                rs.getObject("lease_token", UUID.class),
                instant(rs, "lease_expires_at"),
                // The row keeps the worker of its latest attempt (its history row is written from it
                // when the attempt ends); the job shows a worker only while one holds it.
                state == JobStatus.RUNNING ? rs.getString("worker_id") : null,
                nullableFloat(rs, "progress_percent"),
                rs.getString("progress_message"),
                rs.getString("progress_details"),
                instant(rs, "progress_at"),
                rs.getString("result"),
                rs.getString("last_error"),
                instant(rs, "created_at"),
                instant(rs, "updated_at"),
                instant(rs, "started_at"),
                instant(rs, "finished_at"),
                rs.getLong("version"),
                nullableLong(rs, "parent_id"),
                rs.getString("callback_url"),
                rs.getBoolean("callback_all"),
                rs.getString("trace_parent"),
                rs.getString("trace_state"),
                nullableLong(rs, "run_timeout_ms"),
                rs.getString("concurrency_key"),
                (Integer) rs.getObject("concurrency_limit"),
                rs.getString("concurrency_strategy"),
                (Boolean) rs.getObject("key_admitted"),
                (Boolean) rs.getObject("key_slot"),
                rs.getString("rate_key"),
                longs(rs.getArray("depends_on")),
                rs.getString("on_dependency_failure"),
                List.of());
    }

    private static List<Long> longs(java.sql.Array array) throws SQLException {
        return array == null ? null : List.of((Long[]) array.getArray());
    }

    static Instant instant(ResultSet rs, String column) throws SQLException {
        OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
        return value == null ? null : value.toInstant();
    }

    private static Long nullableLong(ResultSet rs, String column) throws SQLException {
        long value = rs.getLong(column);
        return rs.wasNull() ? null : value;
    }

    private static Float nullableFloat(ResultSet rs, String column) throws SQLException {
        float value = rs.getFloat(column);
        return rs.wasNull() ? null : value;
    }

    private Map<String, String> labels(String text) throws SQLException {
        if (text == null || text.equals("{}")) {
            return Map.of();
        }
        try {
            return Map.copyOf(json.readValue(text, LABELS));
        } catch (JsonProcessingException e) {
            throw new SQLException("jobs.labels is not a JSON object of strings: " + text, e);
        }
    }
}
