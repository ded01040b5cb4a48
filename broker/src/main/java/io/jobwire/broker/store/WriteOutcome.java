package io.jobwire.broker.store;

/** What a fenced worker write did. */
public enum WriteOutcome {
    ACCEPTED,
    LEASE_LOST,
    CANCELLED,
    NOT_FOUND
}
