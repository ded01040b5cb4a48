package io.jobwire.broker.dashboard;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Builds a page. Markup goes in through {@link #tag} and must be a constant of this package; every value
 * goes in through {@link #text} or {@link #attr}, which escape it: job payloads, labels, errors, results and
 * progress messages are written by whoever submits or runs a job, so none of it may ever reach the page as
 * markup. Links go through {@link #href}, which encodes each query value.
 */
final class Html {
    private final StringBuilder out = new StringBuilder(4096);

    /** Constant markup. */
    Html tag(String markup) {
        out.append(markup);
        return this;
    }

    /** A value, escaped for an element's text. */
    Html text(Object value) {
        escape(String.valueOf(value), out);
        return this;
    }

    /** A value, escaped for a double-quoted attribute. */
    Html attr(Object value) {
        return text(value);
    }

    /** Another builder's output (already escaped). */
    Html append(Html other) {
        out.append(other.out);
        return this;
    }

    /** An {@code href="..."} value: the path (a constant or escaped) with the query values encoded. */
    Html href(String path, Map<String, String> query) {
        return attr(link(path, query));
    }

    static String link(String path, Map<String, String> query) {
        StringBuilder url = new StringBuilder(path);
        char sep = '?';
        for (Map.Entry<String, String> e : query.entrySet()) {
            if (e.getValue() == null || e.getValue().isEmpty()) {
                continue;
            }
            url.append(sep).append(encode(e.getKey())).append('=').append(encode(e.getValue()));
            sep = '&';
        }
        return url.toString();
    }

    static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static String escape(String value) {
        StringBuilder s = new StringBuilder(value.length() + 16);
        escape(value, s);
        return s.toString();
    }

    private static void escape(String value, StringBuilder s) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '<' -> s.append("&lt;");
                case '>' -> s.append("&gt;");
                case '&' -> s.append("&amp;");
                case '"' -> s.append("&quot;");
                case '\'' -> s.append("&#39;");
                default -> s.append(c);
            }
        }
    }

    @Override
    public String toString() {
        return out.toString();
    }
}
