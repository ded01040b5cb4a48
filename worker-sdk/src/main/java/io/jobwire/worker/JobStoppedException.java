package io.jobwire.worker;

/**
 * Thrown by {@link JobContext#checkCancelled()} when the job must stop: it was cancelled, its lease
 * was lost, or the worker is shutting down. Let it propagate; nothing is sent for a stopped job.
 */
public class JobStoppedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public JobStoppedException(String reason) {
        super(reason);
    }
}
