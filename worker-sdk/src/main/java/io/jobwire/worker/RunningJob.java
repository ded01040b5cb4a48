package io.jobwire.worker;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.client.JobwireClient;
import java.time.Instant;
import java.util.Map;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * One job this worker holds. The handler thread sees it as its {@link JobContext}; the worker's loop
 * thread owns the lease bookkeeping (the fields marked "loop").
 */
final class RunningJob implements JobContext {
    interface ProgressSink {
        void progress(RunningJob job, float percent, String message, String detailsJson);
    }

    final AssignedJob job;
    final LeaseRef lease;
    final long leaseNanos;
    private final ObjectMapper json;
    private final ProgressSink progressSink;
    private final LongSupplier nanoTime;
    private final Function<String, JobwireClient> clients;
    private JobwireClient client;

    private Thread thread;
    private boolean stopped;
    private volatile String stopReason;

    /**
     * Where a held job is in its life on this worker. The loop thread's only; every change of it is in
     * {@link Worker}, each named after the event that causes it.
     */
    enum Phase {
        /** The handler runs under a lease this worker holds. */
        RUNNING,
        /** Stopped at shutdown, its lease still held: given back once the handler has returned. */
        RELEASE_WHEN_STOPPED,
        /** Its lease is gone (lost, run out, cancelled): the job leaves once the handler has returned. */
        STOPPING,
        /** The handler's outcome ({@link #finish}) is sent; waiting for the broker's answer. */
        FINISHING,
        /** Given back ({@link #finish} is the release); waiting for the broker's answer. */
        RELEASING;

        /** The handler still runs under a lease this worker holds: it may report progress and be stopped. */
        boolean running() {
            return this == RUNNING || this == RELEASE_WHEN_STOPPED;
        }

        /** The lease is still this worker's to keep alive. */
        boolean heartbeats() {
            return running() || this == FINISHING;
        }
    }

    /** A progress report as the handler made it. */
    record Progress(float percent, String message, String details) {
    }

    // loop: the phase, lease deadline (local clock), heartbeat schedule and what is left to say about the job
    Phase phase = Phase.RUNNING;
    /** The outcome or release sent (FINISHING, RELEASING), sent again if the broker could not take it. */
    WorkerMessage finish;
    volatile long deadlineNanos;
    long nextBeatNanos;
    long lastBeatSentNanos;
    /** Held back by the 100 ms pacing, or answered UNAVAILABLE: sent with the next tick or before the finish. */
    Progress unsentProgress;
    Progress lastSentProgress;

    RunningJob(AssignedJob job, long receivedNanos, ObjectMapper json, ProgressSink progressSink, LongSupplier nanoTime,
               Function<String, JobwireClient> clients) {
        this.clients = clients;
        this.job = job;
        this.lease = job.getLease();
        long seconds = job.getLeaseDuration().getSeconds();
        this.leaseNanos = Math.max(1, seconds) * 1_000_000_000L + job.getLeaseDuration().getNanos();
        this.json = json;
        this.progressSink = progressSink;
        this.nanoTime = nanoTime;
        this.deadlineNanos = receivedNanos + leaseNanos;
        this.lastBeatSentNanos = receivedNanos;
        this.nextBeatNanos = receivedNanos + leaseNanos / 3;
    }

    @Override
    public String jobToken() {
        return job.getJobToken();
    }

    @Override
    public synchronized JobwireClient client() {
        if (job.getJobToken().isEmpty()) {
            throw new IllegalStateException("the broker sent no job token with this job (it predates job tokens)");
        }
        if (client == null) {
            client = clients.apply(job.getJobToken());
        }
        return client;
    }

    /** The handler thread starts; false if the job was stopped before it began. */
    synchronized boolean enter(Thread handlerThread) {
        if (stopped) {
            return false;
        }
        thread = handlerThread;
        return true;
    }

    /** The handler returned; clears any interrupt this job caused so the pool thread is clean. */
    synchronized void leave() {
        thread = null;
        Thread.interrupted();
    }

    /** Tells the handler to stop: interrupts its thread, and {@link #isCancelled()} turns true. */
    synchronized void stop(String reason) {
        if (stopped) {
            return;
        }
        stopped = true;
        stopReason = reason;
        if (thread != null) {
            thread.interrupt();
        }
    }

    synchronized boolean stopped() {
        return stopped;
    }

    String stopReason() {
        return stopReason;
    }

    @Override
    public String id() {
        return lease.getJobId();
    }

    @Override
    public java.util.List<String> dependsOn() {
        return job.getDependsOnList();
    }

    @Override
    public String type() {
        return job.getType();
    }

    @Override
    public String queue() {
        return job.getQueue();
    }

    @Override
    public int attempt() {
        return lease.getAttempt();
    }

    @Override
    public int maxAttempts() {
        return job.getMaxAttempts();
    }

    @Override
    public Map<String, String> labels() {
        return job.getLabelsMap();
    }

    @Override
    public String payload() {
        return job.getPayload();
    }

    @Override
    public <T> T payload(Class<T> type) {
        try {
            return json.readValue(job.getPayload(), type);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the payload of job " + id() + " does not fit " + type.getSimpleName()
                    + ": " + e.getOriginalMessage(), e);
        }
    }

    @Override
    public void progress(float percent, String message) {
        progressSink.progress(this, percent, message == null ? "" : message, "");
    }

    @Override
    public void progress(float percent, String message, Object details) {
        String detailsJson;
        try {
            detailsJson = details == null ? "" : json.writeValueAsString(details);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("progress details cannot be written as JSON", e);
        }
        progressSink.progress(this, percent, message == null ? "" : message, detailsJson);
    }

    @Override
    public boolean isCancelled() {
        return stopped();
    }

    @Override
    public void checkCancelled() {
        if (stopped()) {
            throw new JobStoppedException(stopReason);
        }
    }

    @Override
    public Instant deadline() {
        return Instant.now().plusNanos(deadlineNanos - nanoTime.getAsLong());
    }
}
