package io.jobwire.broker.store;

/** The job a submit produced, and whether it was new or found by its idempotency key. */
public record SubmitOutcome(JobRecord job, boolean created) {
}
