package io.jobwire.worker;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.api.v1.WorkerMessage;
import java.time.Instant;
import java.util.Map;
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

    private Thread thread;
    private boolean stopped;
    private volatile String stopReason;

    // loop: lease deadline (local clock), heartbeat schedule, and what is left to say about the job
    volatile long deadlineNanos;
    long nextBeatNanos;
    long lastBeatSentNanos;
    boolean handlerDone;
    boolean leaseGone;
    boolean releasing;
    /** Stopped at shutdown: give the job back once the handler has returned. */
    boolean releaseWhenStopped;
    WorkerMessage finish;

    RunningJob(AssignedJob job, long receivedNanos, ObjectMapper json, ProgressSink progressSink, LongSupplier nanoTime) {
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
