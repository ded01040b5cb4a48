package io.jobwire.broker.types;

import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaException;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.SpecificationVersion;
import com.networknt.schema.path.PathType;
import java.util.List;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A JSON Schema, checked against its dialect's meta-schema and compiled once; validates documents
 * against it. The dialect is the one its {@code $schema} names (drafts 4, 6, 7, 2019-09 and 2020-12),
 * 2020-12 when it names none. Nothing is fetched over the network: a {@code $ref} to another document
 * fails when the schema is compiled. Built on networknt's json-schema-validator.
 */
public final class JsonSchema {
    /** One way a document breaks the schema: where (a JSON Pointer into the document; "" is the whole) and why. */
    public record Violation(String pointer, String message) {
    }

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
            builder -> builder
                    .schemaRegistryConfig(SchemaRegistryConfig.builder().pathType(PathType.JSON_POINTER).build())
                    .schemaLoader(loader -> loader.fetchRemoteResources(false)));

    private final Schema schema;

    private JsonSchema(Schema schema) {
        this.schema = schema;
    }

    /**
     * Compiles {@code text}.
     *
     * @throws IllegalArgumentException saying what is wrong, when it is not a schema of its dialect
     */
    public static JsonSchema compile(String text) {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("is not JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject() && !node.isBoolean()) {
            throw new IllegalArgumentException("must be a JSON object (or true or false)");
        }
        SpecificationVersion dialect = SpecificationVersion.DRAFT_2020_12;
        JsonNode named = node.isObject() ? node.get("$schema") : null;
        if (named != null) {
            dialect = SpecificationVersion.fromDialectId(named.asString("")).orElseThrow(() -> new IllegalArgumentException(
                    "$schema: " + named + " is not a dialect this broker knows (drafts 4, 6, 7, 2019-09, 2020-12)"));
        }
        try {
            List<Error> problems = REGISTRY.getSchema(SchemaLocation.of(dialect.getDialectId())).validate(node);
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException("is not a valid schema: " + describe(violations(problems), 3));
            }
            Schema schema = REGISTRY.getSchema(SchemaLocation.DOCUMENT, node);
            schema.validate(JSON.nullNode()); // resolves every $ref now, not at the first submit
            return new JsonSchema(schema);
        } catch (SchemaException | IllegalStateException e) {
            throw new IllegalArgumentException("cannot be used: " + e.getMessage());
        }
    }

    /** Every way {@code json} (valid JSON text) breaks this schema; empty when it fits. */
    public List<Violation> validate(String json) {
        return violations(schema.validate(json, InputFormat.JSON));
    }

    private static List<Violation> violations(List<Error> errors) {
        return errors.stream().map(error -> new Violation(error.getInstanceLocation().toString(), error.getMessage()))
                .toList();
    }

    /** The first {@code most} violations as one line, with how many more there are. */
    public static String describe(List<Violation> violations, int most) {
        StringBuilder line = new StringBuilder();
        for (Violation violation : violations.subList(0, Math.min(most, violations.size()))) {
            if (!line.isEmpty()) {
                line.append("; ");
            }
            line.append(violation.pointer().isEmpty() ? "(the whole document)" : violation.pointer())
                    .append(": ").append(violation.message());
        }
        if (violations.size() > most) {
            line.append(" (and ").append(violations.size() - most).append(" more)");
        }
        return line.toString();
    }
}
