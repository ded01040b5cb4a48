package io.jobwire.broker.store;

/** A job's state as stored in {@code jobs.state}. */
public enum JobStatus {
    QUEUED,
    RUNNING,
    SUCCEEDED,
    FAILED,
    CANCELLED,
    HELD,
    /** Waiting for the jobs it depends on; no ready entry. */
    WAITING;

    /** SUCCEEDED, FAILED and CANCELLED: nothing happens to the job without an explicit Retry. */
    public boolean isFinished() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
