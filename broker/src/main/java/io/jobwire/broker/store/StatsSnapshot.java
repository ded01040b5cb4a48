package io.jobwire.broker.store;

import java.time.Instant;
import java.util.List;

/** Counts per (type, queue) and the live worker sessions, as of {@code takenAt} (database clock). */
public record StatsSnapshot(List<QueueCounts> queues, List<WorkerSessionRecord> workers, Instant takenAt) {
}
