package io.jobwire.broker.api;

/** Job ids travel as decimal strings. */
final class JobIds {
    private JobIds() {
    }

    /** The numeric id, or IllegalArgumentException with a message fit for the caller. */
    static long parse(String id) {
        if (id.isEmpty()) {
            throw new IllegalArgumentException("must not be empty");
        }
        if (id.length() > 19 || !id.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("is not a job id: " + Texts.quote(id));
        }
        long value;
        try {
            value = Long.parseLong(id);
        } catch (NumberFormatException e) {
            value = 0;
        }
        if (value <= 0) {
            throw new IllegalArgumentException("is not a job id: " + Texts.quote(id));
        }
        return value;
    }

    /** Like {@link #parse}, but as INVALID_ARGUMENT naming {@code field}. */
    static long parse(String field, String id) {
        try {
            return parse(id);
        } catch (IllegalArgumentException e) {
            throw InvalidArgument.of(field, e.getMessage());
        }
    }
}
