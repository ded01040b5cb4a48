package io.jobwire.broker.store;

import java.time.Instant;
import java.util.List;

/**
 * A worker stream open on some broker, as recorded in {@code worker_sessions}.
 *
 * @param principal the stream's authenticated principal (null when the broker does not authenticate)
 */
public record WorkerSessionRecord(
        String sessionId,
        String workerId,
        String principal,
        String brokerId,
        List<String> jobTypes,
        List<String> queues,
        int maxConcurrency,
        int inFlight,
        int freeCapacity,
        Instant connectedAt,
        Instant lastSeenAt) {
}
