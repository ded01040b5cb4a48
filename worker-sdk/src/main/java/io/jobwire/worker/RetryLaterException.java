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

    public RetryLaterException(String message, Duration delay) {
        super(message);
        this.delay = delay;
    }

    public Duration delay() {
        return delay;
    }
}
