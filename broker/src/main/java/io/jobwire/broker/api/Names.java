package io.jobwire.broker.api;

import java.util.regex.Pattern;

/** The rule for type, queue, owner and label key names. */
final class Names {
    static final int MAX_LENGTH = 128;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.:-]{0," + (MAX_LENGTH - 1) + "}");

    private Names() {
    }

    /** Returns {@code value}, or throws INVALID_ARGUMENT naming {@code field}. */
    /** True when {@code value} follows the rules of a name. */
    static boolean isName(String value) {
        return NAME.matcher(value).matches();
    }

    static String check(String field, String value) {
        if (value.isEmpty()) {
            throw InvalidArgument.of(field, "must not be empty");
        }
        if (!NAME.matcher(value).matches()) {
            throw InvalidArgument.of(field, "must be 1-" + MAX_LENGTH + " characters of [A-Za-z0-9_.:-] starting with a "
                    + "letter, digit or underscore, got " + Texts.quote(value));
        }
        return value;
    }

    /** Like {@link #check}, but empty means {@code fallback}. */
    static String checkOr(String field, String value, String fallback) {
        return value.isEmpty() ? fallback : check(field, value);
    }
}
