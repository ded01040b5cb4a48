package io.jobwire.broker.store;

import java.time.Instant;

/** A registered job type and how many live worker sessions serve it. */
public record JobTypeRecord(
        String name,
        String description,
        String payloadSchema,
        int workersOnline,
        Instant firstSeenAt,
        Instant lastSeenAt) {
}
