package io.jobwire.broker.store;

/** A job's state as stored in {@code jobs.state}. */
public enum JobStatus {
    QUEUED,
    RUNNING,
    SUCCEEDED,
    FAILED,
    CANCELLED,
    HELD;

    /** SUCCEEDED, FAILED and CANCELLED: nothing happens to the job without an explicit Retry. */
    public boolean isFinished() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
