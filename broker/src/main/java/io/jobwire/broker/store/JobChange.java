package io.jobwire.broker.store;

import java.time.Instant;

/**
 * A committed change to a job. Changes made through this broker carry type, queue and owner; changes
 * learnt from another broker's notification carry only what fits in it, and those fields are null.
 */
public record JobChange(
        long id,
        long version,
        JobStatus state,
        int attempt,
        Instant runAt,
        String type,
        String queue,
        String owner) {

    public boolean isRemote() {
        return type == null;
    }
}
