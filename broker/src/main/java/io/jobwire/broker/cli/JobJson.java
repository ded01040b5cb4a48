package io.jobwire.broker.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;

/**
 * Prints wire messages as JSON for people and scripts. The JSON-text fields (payload, result, progress
 * details, payload schema) are embedded as JSON values rather than as escaped strings, so
 * {@code jobwire get 42 | jq .result.total} works.
 */
final class JobJson {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();
    private static final String[] EMBEDDED = {"payload", "result", "details", "payloadSchema"};

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

    static String write(JsonNode tree, boolean pretty) {
        try {
            return pretty ? MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(tree)
                    : MAPPER.writeValueAsString(tree);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }
}
