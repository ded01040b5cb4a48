package io.jobwire.broker.store;

import java.time.Duration;

/** The backoff used when a job does not set its own retry policy. */
public record RetryDefaults(Duration initialDelay, Duration maxDelay) {
    public static final RetryDefaults STANDARD = new RetryDefaults(Duration.ofSeconds(1), Duration.ofHours(1));
}
