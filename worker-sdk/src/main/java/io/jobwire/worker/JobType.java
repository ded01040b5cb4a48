package io.jobwire.worker;

import java.util.Objects;

/**
 * A job type as a worker announces it: its name, and optionally a description and a JSON Schema of
 * its payload (both shown by ListJobTypes), and its own concurrency limit.
 *
 * <pre>{@code
 * JobType.of("email.send").description("Sends one email").concurrency(4)
 * }</pre>
 */
public final class JobType {
    private final String name;
    private final String description;
    private final String payloadSchema;
    private final int concurrency;

    private JobType(String name, String description, String payloadSchema, int concurrency) {
        this.name = Objects.requireNonNull(name, "name");
        this.description = description;
        this.payloadSchema = payloadSchema;
        this.concurrency = concurrency;
    }

    public static JobType of(String name) {
        return new JobType(name, "", "", 0);
    }

    public JobType description(String text) {
        return new JobType(name, text, payloadSchema, concurrency);
    }

    /** A JSON Schema (as JSON text) of the payload. */
    public JobType payloadSchema(String jsonSchema) {
        return new JobType(name, description, jsonSchema, concurrency);
    }

    /** At most this many jobs of this type at once on this worker (0: only the worker's limit). */
    public JobType concurrency(int limit) {
        if (limit < 0) {
            throw new IllegalArgumentException("concurrency must not be negative");
        }
        return new JobType(name, description, payloadSchema, limit);
    }

    public String name() {
        return name;
    }

    public String description() {
        return description;
    }

    public String payloadSchema() {
        return payloadSchema;
    }

    public int concurrency() {
        return concurrency;
    }
}
