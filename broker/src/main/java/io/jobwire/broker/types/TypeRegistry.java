package io.jobwire.broker.types;

import io.jobwire.broker.store.TypeRegistrations;
import io.jobwire.broker.store.TypeRegistrations.Registration;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This broker's copy of the job types an admin registered, with each payload schema compiled once. The
 * submit path reads it without touching the database; {@link #refresh} (every second, from maintenance)
 * reloads it when the registry's epoch moved on any broker, and a change made through this broker is
 * here before its call is answered.
 */
public final class TypeRegistry {
    private static final Logger log = LoggerFactory.getLogger(TypeRegistry.class);

    /** A registration refused because one of its schemas is not a usable JSON Schema. */
    public static final class InvalidSchemaException extends IllegalArgumentException {
        private final String field;
        private final String problem;

        InvalidSchemaException(String field, String problem) {
            super(field + ": " + problem);
            this.field = field;
            this.problem = problem;
        }

        /** payload_schema or result_schema */
        public String field() {
            return field;
        }

        public String problem() {
            return problem;
        }
    }

    /** A registered type and its payload schema, compiled (null when it has none). */
    public record Registered(Registration registration, JsonSchema payloadSchema) {
    }

    private final TypeRegistrations store;
    private volatile Map<String, Registered> types = Map.of();
    private long epoch = -1;

    public TypeRegistry(TypeRegistrations store) {
        this.store = store;
    }

    /** The registered type of this name, or null. */
    public Registered find(String name) {
        return types.get(name);
    }

    /**
     * The registered type of this name, reading the registry first if it is not known here: for refusing
     * an unregistered type, which must not be refused only because another broker's registration has not
     * reached this one yet.
     */
    public Registered findFresh(String name) {
        Registered known = types.get(name);
        if (known == null) {
            refresh();
            known = types.get(name);
        }
        return known;
    }

    public Collection<Registered> all() {
        return types.values();
    }

    /** Reloads the registry if it changed (on any broker) since this broker last read it. */
    public synchronized void refresh() {
        long now = store.epoch();
        if (now != epoch) {
            Map<String, Registered> next = new HashMap<>();
            for (Registration registration : store.all()) {
                Registered old = types.get(registration.name());
                boolean sameSchema = old != null && java.util.Objects.equals(old.registration().payloadSchema(),
                        registration.payloadSchema());
                next.put(registration.name(), new Registered(registration,
                        sameSchema ? old.payloadSchema() : compiled(registration)));
            }
            types = Map.copyOf(next);
            epoch = now;
        }
    }

    private static JsonSchema compiled(Registration registration) {
        if (registration.payloadSchema() == null) {
            return null;
        }
        try {
            return JsonSchema.compile(registration.payloadSchema());
        } catch (IllegalArgumentException e) {
            // Checked when registered; only a schema stored by another version of Jobwire could fail here.
            log.error("the registered payload schema of type {} {}; its payloads are not checked", registration.name(),
                    e.getMessage());
            return null;
        }
    }

    /**
     * Registers a type, or replaces its registration, once its schemas compile.
     *
     * @throws InvalidSchemaException when one of its schemas is not a usable JSON Schema
     */
    public Registered register(Registration registration) {
        check("payload_schema", registration.payloadSchema());
        check("result_schema", registration.resultSchema());
        store.register(registration);
        refresh();
        return types.get(registration.name());
    }

    /** Removes a registration; what was removed, if the type was registered. */
    public Optional<Registration> unregister(String name) {
        Optional<Registration> removed = store.unregister(name);
        refresh();
        return removed;
    }

    private static void check(String field, String schema) {
        if (schema != null) {
            try {
                JsonSchema.compile(schema);
            } catch (IllegalArgumentException e) {
                throw new InvalidSchemaException(field, e.getMessage());
            }
        }
    }
}
