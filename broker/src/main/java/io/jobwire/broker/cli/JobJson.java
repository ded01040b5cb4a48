package io.jobwire.broker.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.jobwire.api.v1.JobSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * Prints wire messages as JSON for people and scripts. The JSON-text fields (payload, result, progress
 * details, payload schema) are embedded as JSON values rather than as escaped strings, so
 * {@code jobwire get 42 | jq .result.total} works.
 */
final class JobJson {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();
    private static final String[] EMBEDDED = {"payload", "result", "details", "payloadSchema", "resultSchema"};

    private JobJson() {
    }

    static String compact(MessageOrBuilder message) {
        return write(tree(message), false);
    }

    static String pretty(MessageOrBuilder message) {
        return write(tree(message), true);
    }

    static JsonNode tree(MessageOrBuilder message) {
        try {
            JsonNode tree = MAPPER.readTree(PRINTER.print(message));
            embed(tree);
            return tree;
        } catch (InvalidProtocolBufferException | JsonProcessingException e) {
            throw new IllegalStateException("cannot print " + message.getClass().getSimpleName() + " as JSON", e);
        }
    }

    /** Replaces JSON-text fields, at any depth, by the JSON they hold (left as text if it does not parse). */
    private static void embed(JsonNode node) {
        if (node instanceof ObjectNode object) {
            for (String field : EMBEDDED) {
                JsonNode value = object.get(field);
                if (value != null && value.isTextual()) {
                    try {
                        object.set(field, MAPPER.readTree(value.textValue()));
                    } catch (JsonProcessingException e) {
                        // not JSON after all: keep the text
                    }
                }
            }
            object.forEach(JobJson::embed);
        } else if (node.isArray()) {
            node.forEach(JobJson::embed);
        }
    }

    /** JSON text on one line (empty stays empty; text that is not JSON is returned as it is). */
    static String compactJson(String text) {
        if (text.isEmpty()) {
            return text;
        }
        try {
            return MAPPER.writeValueAsString(MAPPER.readTree(text));
        } catch (JsonProcessingException e) {
            return text;
        }
    }

    /** The job as JSON with {@code "created"}: false when a submit's idempotency key matched it. */
    static JsonNode withCreated(MessageOrBuilder job, boolean created) {
        ObjectNode tree = (ObjectNode) tree(job);
        tree.put("created", created);
        return tree;
    }

    /** {@code text} if it is JSON; otherwise a usage error naming the option. */
    static String requireJson(String option, String text) {
        try {
            MAPPER.readTree(text);
            return text;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(option + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
        }
    }

    /**
     * Job specs, one JSON object per non-blank line, with JobSpec's fields as protobuf's JSON mapping
     * names them; {@code payload} may be any JSON value (it is sent as its text). A line that does not
     * parse is a usage error naming the line, so nothing is submitted.
     */
    static List<JobSpec> specsPerLine(String text) {
        List<JobSpec> specs = new ArrayList<>();
        String[] lines = text.split("\\R");
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            try {
                JsonNode line = MAPPER.readTree(lines[i]);
                if (!(line instanceof ObjectNode object)) {
                    throw new IllegalArgumentException("expected a JSON object");
                }
                JsonNode payload = object.get("payload");
                if (payload != null && !payload.isTextual()) {
                    object.put("payload", MAPPER.writeValueAsString(payload));
                }
                JobSpec.Builder spec = JobSpec.newBuilder();
                JsonFormat.parser().merge(MAPPER.writeValueAsString(object), spec);
                specs.add(spec.build());
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException("--batch line " + (i + 1) + ": not valid JSON ("
                        + e.getOriginalMessage() + ")", e);
            } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
                throw new IllegalArgumentException("--batch line " + (i + 1) + ": not a job spec (" + e.getMessage() + ")", e);
            }
        }
        if (specs.isEmpty()) {
            throw new IllegalArgumentException("--batch: no jobs in the input (one JSON object per line)");
        }
        return specs;
    }

    static String write(JsonNode tree, boolean pretty) {
        try {
            return pretty ? MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(tree)
                    : MAPPER.writeValueAsString(tree);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }
}
