package io.jobwire.broker.store;

/** The worker writes the store applies in batches, each fenced by its lease. */
public final class WorkerWrites {
    private WorkerWrites() {
    }

    public record Completion(LeaseRef lease, String resultJson) {
    }

    /** {@code retryDelayMs} null: the job's backoff decides. */
    public record Failure(LeaseRef lease, String error, boolean retryable, Long retryDelayMs) {
    }

    public record ProgressReport(LeaseRef lease, float percent, String message, String detailsJson) {
    }

    public record Release(LeaseRef lease, String reason) {
    }

    /** The attempt ends and the job waits for these jobs (AwaitJobs), then runs again. */
    public record Await(LeaseRef lease, java.util.List<Long> jobIds) {
    }
}
