package io.jobwire.broker.store;

import java.time.Instant;

/** One row of {@code job_attempts}. */
public record AttemptRecord(
        int attempt,
        String workerId,
        Instant startedAt,
        Instant finishedAt,
        String outcome,
        String error) {
}
