package io.jobwire.broker.store;

import java.time.Instant;
import java.util.List;

/** A worker stream open on some broker, as recorded in {@code worker_sessions}. */
public record WorkerSessionRecord(
        String sessionId,
        String workerId,
        String brokerId,
        List<String> jobTypes,
        List<String> queues,
        int maxConcurrency,
        int inFlight,
        int freeCapacity,
        Instant connectedAt,
        Instant lastSeenAt) {
}
