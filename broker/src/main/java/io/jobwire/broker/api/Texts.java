package io.jobwire.broker.api;

/** Checks for free text that PostgreSQL must be able to store. */
final class Texts {
    private static final int QUOTE_LIMIT = 60;

    private Texts() {
    }

    /** Returns {@code value}, or throws INVALID_ARGUMENT when it is too long or holds NUL or a lone surrogate. */
    static String check(String field, String value, int maxLength) {
        if (value.length() > maxLength) {
            throw InvalidArgument.of(field, "must be at most " + maxLength + " characters, got " + value.length());
        }
        String problem = problemIn(value);
        if (problem != null) {
            throw InvalidArgument.of(field, problem);
        }
        return value;
    }

    /** Text from a worker's own error output: made storable rather than refused. */
    static String sanitize(String value, int maxLength) {
        String text = value.length() > maxLength ? value.substring(0, maxLength) : value;
        if (problemIn(text) == null) {
            return text;
        }
        StringBuilder clean = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == 0) {
                clean.append('\uFFFD');
            } else if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                clean.append(c).append(text.charAt(++i));
            } else if (Character.isSurrogate(c)) {
                clean.append('\uFFFD');
            } else {
                clean.append(c);
            }
        }
        return clean.toString();
    }

    /** Why PostgreSQL would refuse this text, or null. */
    static String problemIn(String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == 0) {
                return "must not contain NUL (U+0000)";
            }
            if (Character.isHighSurrogate(c) && i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return "must not contain an unpaired surrogate (U+" + Integer.toHexString(c).toUpperCase() + ")";
            }
        }
        return null;
    }

    static String quote(String value) {
        String shown = value.length() > QUOTE_LIMIT ? value.substring(0, QUOTE_LIMIT) + "..." : value;
        return "\"" + shown.replace("\u0000", "\\u0000") + "\"";
    }
}
