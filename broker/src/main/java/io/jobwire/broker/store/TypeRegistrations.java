package io.jobwire.broker.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Array;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.jdbi.v3.core.Jdbi;

/**
 * The job types an admin registered ({@code type_registry}): read whole by each broker's registry cache,
 * changed one at a time. Every change moves {@code type_registry_epoch} in the same commit.
 */
public final class TypeRegistrations {
    /** The turn of a job of weight 1 under fair share; one of weight w takes FAIR_TURN / w. */
    public static final long FAIR_TURN = 1_000_000;
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Jdbi jdbi;

    public TypeRegistrations(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** One registered type. Schemas are JSON text (null: none); defaults are null when not set. */
    public record Registration(
            String name,
            String description,
            String documentation,
            String payloadSchema,
            String resultSchema,
            List<String> uses,
            String defaultQueue,
            Long defaultLeaseMs,
            Integer defaultMaxAttempts,
            Long retryInitialMs,
            Long retryMaxMs,
            /** The run timeout of its jobs that set none, or null. */
            Long defaultRunTimeoutMs,
            /** The concurrency key of its jobs that name none, or null; with its limit and strategy (or nulls). */
            String defaultConcurrencyKey,
            Integer defaultConcurrencyLimit,
            String defaultConcurrencyStrategy,
            /** The rate key of its jobs that name none, or null. */
            String defaultRateKey,
            /**
             * Null: no fair share. Else the type's owners take turns, each owner named here with its weight
             * (1 to 1000), every other owner with 1.
             */
            Map<String, Integer> fairWeights,
            int version,
            String registeredBy,
            Instant registeredAt,
            Instant updatedAt) {
        public Registration {
            uses = List.copyOf(uses);
            fairWeights = fairWeights == null ? null : Map.copyOf(fairWeights);
        }

        /** The turn one job of the owner takes under fair share (1,000,000 / its weight), or null without. */
        public Long fairStep(String owner) {
            return fairWeights == null ? null : FAIR_TURN / fairWeights.getOrDefault(owner, 1);
        }
    }

    /** Registers the type or replaces its registration (the version moves on); returns it as stored. */
    public Registration register(Registration type) {
        return jdbi.inTransaction(handle -> {
            Registration stored = handle.createQuery(Sql.load(TypeRegistrations.class, "register_type"))
                    .bind("name", type.name())
                    .bind("description", type.description())
                    .bind("documentation", type.documentation())
                    .bind("payloadSchema", type.payloadSchema())
                    .bind("resultSchema", type.resultSchema())
                    .bind("uses", type.uses().toArray(String[]::new))
                    .bind("defaultQueue", type.defaultQueue())
                    .bind("defaultLeaseMs", type.defaultLeaseMs())
                    .bind("defaultMaxAttempts", type.defaultMaxAttempts())
                    .bind("retryInitialMs", type.retryInitialMs())
                    .bind("retryMaxMs", type.retryMaxMs())
                    .bind("defaultRunTimeoutMs", type.defaultRunTimeoutMs())
                    .bind("defaultConcurrencyKey", type.defaultConcurrencyKey())
                    .bind("defaultConcurrencyLimit", type.defaultConcurrencyLimit())
                    .bind("defaultConcurrencyStrategy", type.defaultConcurrencyStrategy())
                    .bind("defaultRateKey", type.defaultRateKey())
                    .bind("fairWeights", type.fairWeights() == null ? null : json(type.fairWeights()))
                    .bind("registeredBy", type.registeredBy())
                    .map((rs, ctx) -> read(rs))
                    .one();
            bumpEpoch(handle);
            return stored;
        });
    }

    /** Removes the registration; the removed one, or empty if the type was not registered. */
    public Optional<Registration> unregister(String name) {
        return jdbi.inTransaction(handle -> {
            Optional<Registration> removed = handle.createQuery(Sql.load(TypeRegistrations.class, "unregister_type"))
                    .bind("name", name)
                    .map((rs, ctx) -> read(rs))
                    .findOne();
            if (removed.isPresent()) {
                bumpEpoch(handle);
            }
            return removed;
        });
    }

    /** Every registered type, by name. */
    public List<Registration> all() {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(TypeRegistrations.class, "registered_types"))
                .map((rs, ctx) -> read(rs))
                .list());
    }

    /** Moves with every change of the registry, on any broker. */
    public long epoch() {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(TypeRegistrations.class, "registry_epoch"))
                .mapTo(Long.class)
                .one());
    }

    private static void bumpEpoch(org.jdbi.v3.core.Handle handle) {
        handle.createUpdate(Sql.load(TypeRegistrations.class, "bump_registry_epoch")).execute();
    }

    private static Registration read(ResultSet rs) throws SQLException {
        return new Registration(
                rs.getString("name"),
                rs.getString("description"),
                rs.getString("documentation"),
                rs.getString("payload_schema"),
                rs.getString("result_schema"),
                strings(rs.getArray("uses")),
                rs.getString("default_queue"),
                (Long) rs.getObject("default_lease_ms"),
                (Integer) rs.getObject("default_max_attempts"),
                (Long) rs.getObject("retry_initial_ms"),
                (Long) rs.getObject("retry_max_ms"),
                (Long) rs.getObject("default_run_timeout_ms"),
                rs.getString("default_concurrency_key"),
                (Integer) rs.getObject("default_concurrency_limit"),
                rs.getString("default_concurrency_strategy"),
                rs.getString("default_rate_key"),
                weights(rs.getString("fair_weights")),
                rs.getInt("version"),
                rs.getString("registered_by"),
                rs.getTimestamp("registered_at").toInstant(),
                rs.getTimestamp("updated_at").toInstant());
    }

    private static String json(Map<String, Integer> weights) {
        try {
            return JSON.writeValueAsString(new TreeMap<>(weights));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Integer> weights(String json) throws SQLException {
        if (json == null) {
            return null;
        }
        try {
            return JSON.readValue(json, new TypeReference<Map<String, Integer>>() { });
        } catch (JsonProcessingException e) {
            throw new SQLException("fair_weights is not a map of weights: " + json, e);
        }
    }

    private static List<String> strings(Array array) throws SQLException {
        return array == null ? List.of() : Arrays.asList((String[]) array.getArray());
    }
}
