package io.jobwire.worker;

import java.time.Duration;

/**
 * Thrown by a handler to fail this attempt and retry after {@code delay} instead of the job's backoff
 * (for example when a rate limit says when to come back). Still uses up an attempt.
 *
 * <pre>{@code
 * throw new RetryLaterException("rate limited", Duration.ofSeconds(response.retryAfter()));
 * }</pre>
 */
public class RetryLaterException extends Exception {
    private static final long serialVersionUID = 1L;

    private final Duration delay;

    /** Fails this attempt with {@code message}; the next comes after the job's own backoff. */
    public RetryLaterException(String message) {
        this(message, null);
    }

    /** @param delay when to try again (null: after the job's own backoff) */
    public RetryLaterException(String message, Duration delay) {
        super(message);
        this.delay = delay;
    }

    /** When to try again, or null for the job's own backoff. */
    public Duration delay() {
        return delay;
    }
}
