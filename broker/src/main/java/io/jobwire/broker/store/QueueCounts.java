package io.jobwire.broker.store;

import java.time.Duration;

/** One row of Stats: the jobs of one (type, queue) by state, with runs, errors and the oldest wait. */
public record QueueCounts(
        String type,
        String queue,
        long queued,
        long scheduled,
        long running,
        long succeeded,
        long failed,
        long cancelled,
        long held,
        long waiting,
        long attempts,
        long attemptErrors,
        Duration oldestQueuedAge) {
}
