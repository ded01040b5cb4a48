package io.jobwire.broker.store;

import java.util.UUID;

/** One lease: a job as claimed by one attempt. Every worker write names one. */
public record LeaseRef(long jobId, int attempt, UUID token) {
}
