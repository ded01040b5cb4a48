package io.jobwire.broker.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;

/** Validates JSON text from callers before it reaches PostgreSQL's jsonb, which must accept it. */
final class JsonText {
    private final ObjectMapper mapper;

    JsonText(ObjectMapper json) {
        this.mapper = json.copy().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    }

    /**
     * Returns {@code text} (or {@code emptyMeans} when it is empty) if it is one well-formed JSON value
     * within {@code maxBytes}; otherwise throws RESOURCE_EXHAUSTED (size) or INVALID_ARGUMENT.
     */
    String check(String field, String text, String emptyMeans, long maxBytes) {
        if (text.isEmpty()) {
            return emptyMeans;
        }
        long size = utf8Length(text);
        if (size > maxBytes) {
            throw InvalidArgument.tooLarge(field, size, maxBytes);
        }
        JsonNode root = parse(field, text);
        checkStrings(field, root);
        return text;
    }

    /** Like {@link #check}, and the value must be a JSON object. */
    String checkObject(String field, String text, long maxBytes) {
        String checked = check(field, text, "{}", maxBytes);
        if (!parse(field, checked).isObject()) {
            throw InvalidArgument.of(field, "must be a JSON object");
        }
        return checked;
    }

    /** True when both texts are the same JSON value (key order and spacing aside); false if either is not JSON. */
    boolean sameJson(String a, String b) {
        try {
            return mapper.readTree(a).equals(mapper.readTree(b));
        } catch (JsonProcessingException e) {
            return false;
        }
    }

    private JsonNode parse(String field, String text) {
        try {
            return mapper.readTree(text);
        } catch (JsonProcessingException e) {
            throw InvalidArgument.of(field, "is not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** jsonb refuses \u0000 and unpaired surrogates in strings and keys: refuse them here, with the field. */
    private static void checkStrings(String field, JsonNode root) {
        Deque<JsonNode> pending = new ArrayDeque<>();
        pending.push(root);
        while (!pending.isEmpty()) {
            JsonNode node = pending.pop();
            if (node.isTextual()) {
                checkString(field, node.textValue());
            } else if (node.isObject()) {
                for (Map.Entry<String, JsonNode> entry : node.properties()) {
                    checkString(field, entry.getKey());
                    pending.push(entry.getValue());
                }
            } else if (node.isArray()) {
                node.forEach(pending::push);
            }
        }
    }

    private static void checkString(String field, String value) {
        String problem = Texts.problemIn(value);
        if (problem != null) {
            throw InvalidArgument.of(field, "JSON strings " + problem);
        }
    }

    static long utf8Length(String text) {
        long bytes = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }
}
