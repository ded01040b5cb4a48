package io.jobwire.worker;

import io.jobwire.client.JobwireClient;
import java.time.Instant;
import java.util.Map;

/**
 * What a handler knows about the job it runs, and how it talks back. When the job is cancelled or its
 * lease is lost, the handler's thread is interrupted and {@link #isCancelled()} turns true; whatever the
 * handler returns after that is not sent.
 *
 * <pre>{@code
 * for (int i = 0; i < rows.size(); i++) {
 *     job.checkCancelled();
 *     process(rows.get(i));
 *     job.progress(100f * i / rows.size(), "row " + i, Map.of("done", i));
 * }
 * }</pre>
 */
public interface JobContext {
    String id();

    String type();

    String queue();

    /** 1 for the first claim of the job, then counting up. */
    int attempt();

    int maxAttempts();

    Map<String, String> labels();

    /** The payload as JSON text. */
    String payload();

    /** The payload read into {@code type} with Jackson. */
    <T> T payload(Class<T> type);

    /** Reports progress (0 to 100) and a short message; also extends the lease. */
    void progress(float percent, String message);

    /** Reports progress with details: any object Jackson can write, shown to watchers as JSON. */
    void progress(float percent, String message, Object details);

    /** True once the job was cancelled, ran past its run timeout, lost its lease, or the worker is shutting down. */
    boolean isCancelled();

    /** Throws {@link JobStoppedException} if {@link #isCancelled()}; call it between steps of long work. */
    void checkCancelled();

    /** When the lease runs out (local clock) unless a heartbeat gets through first. */
    Instant deadline();

    /**
     * The job token: a bearer token for the JobService that acts as the job's owner while this attempt
     * runs. Jobs submitted with it record this job as their parent; it may submit the types the job type's
     * registration lists in {@code uses}. It stops working on every broker when the attempt ends.
     */
    String jobToken();

    /**
     * A client acting with {@link #jobToken()} over the worker's own connection: submit follow-up jobs,
     * read the owner's jobs. No need to close it.
     *
     * <pre>{@code
     * Job child = job.client().submit("email.send", Map.of("to", order.email()));
     * }</pre>
     */
    JobwireClient client();

    /**
     * The jobs this one waited for: its {@code depends_on}, or, when it runs again after
     * {@link #awaitJobs}, the jobs it waited for (all finished by now). Empty when none.
     */
    default java.util.List<String> dependsOn() {
        return java.util.List.of();
    }

    /**
     * Returned by the handler: this attempt ends, and the job runs again once these jobs have all finished
     * (succeeded or not; read their outcomes with {@link #client()}), without holding a worker slot
     * meanwhile and without using up an attempt. See {@link Awaiting}.
     */
    default Awaiting awaitJobs(java.util.Collection<String> jobIds) {
        return new Awaiting(java.util.List.copyOf(jobIds));
    }
}
