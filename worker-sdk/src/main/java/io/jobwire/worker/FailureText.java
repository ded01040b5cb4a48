package io.jobwire.worker;

/**
 * What a failed attempt stores as its error: what a person can act on, not a full stack trace. For
 * {@link NonRetryableException} and {@link RetryLaterException}, the handler's own words: the message.
 * For anything else, the exception's simple class name and message and its first {@link #FRAMES} stack
 * frames. Either way the root cause, if there is one, follows on a line of its own, and the whole text
 * is at most {@link #MAX_CHARS} characters.
 */
final class FailureText {
    /** The longest error text a worker sends. */
    static final int MAX_CHARS = 2000;
    /** Stack frames kept of an unexpected exception. */
    static final int FRAMES = 5;

    private FailureText() {
    }

    static String of(Throwable error) {
        StringBuilder text = new StringBuilder();
        if (error instanceof NonRetryableException || error instanceof RetryLaterException) {
            text.append(error.getMessage() == null || error.getMessage().isBlank() ? "failed without a message"
                    : error.getMessage());
        } else {
            text.append(summary(error));
            StackTraceElement[] frames = error.getStackTrace();
            for (int i = 0; i < Math.min(FRAMES, frames.length); i++) {
                text.append("\n    at ").append(frames[i]);
            }
        }
        Throwable root = rootCause(error);
        if (root != error) {
            text.append("\ncaused by: ").append(summary(root));
        }
        return text.length() > MAX_CHARS ? text.substring(0, MAX_CHARS - 1) + "…" : text.toString();
    }

    private static String summary(Throwable error) {
        String name = error.getClass().getSimpleName().isEmpty() ? error.getClass().getName()
                : error.getClass().getSimpleName();
        return error.getMessage() == null ? name : name + ": " + error.getMessage();
    }

    private static Throwable rootCause(Throwable error) {
        Throwable root = error;
        for (int depth = 0; root.getCause() != null && root.getCause() != root && depth < 32; depth++) {
            root = root.getCause();
        }
        return root;
    }
}
