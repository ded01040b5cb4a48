package io.jobwire.worker;

import java.util.List;

/**
 * What a handler returns to finish its part and wait for other jobs (usually children it submitted with
 * {@link JobContext#client()}): the attempt ends without finishing the job, the worker's slot is free,
 * and once those jobs have all finished the job runs again, with their ids in
 * {@link JobContext#dependsOn()}. Made by {@link JobContext#awaitJobs}.
 *
 * <pre>{@code
 * JobHandler report = job -> {
 *     if (job.dependsOn().isEmpty()) {
 *         List<String> parts = submitParts(job.client());
 *         return job.awaitJobs(parts);           // come back when they are done
 *     }
 *     return merge(job.client(), job.dependsOn()); // they are: read their results
 * };
 * }</pre>
 */
public final class Awaiting {
    private final List<String> jobIds;

    Awaiting(List<String> jobIds) {
        if (jobIds.isEmpty()) {
            throw new IllegalArgumentException("name at least one job to wait for");
        }
        this.jobIds = List.copyOf(jobIds);
    }

    /** The jobs waited for. */
    public List<String> jobIds() {
        return jobIds;
    }
}
