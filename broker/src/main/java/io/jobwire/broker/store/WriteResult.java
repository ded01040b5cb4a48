package io.jobwire.broker.store;

import java.time.Instant;

/**
 * The answer to one fenced worker write. {@code state} is the job's state after the write (or as found,
 * when refused); {@code type} is known for accepted writes; {@code leaseExpiresAt} is the new deadline of an accepted heartbeat or progress.
 */
public record WriteResult(LeaseRef lease, WriteOutcome outcome, JobStatus state, String type,
                          Instant leaseExpiresAt, String message) {

    public boolean accepted() {
        return outcome == WriteOutcome.ACCEPTED;
    }
}
