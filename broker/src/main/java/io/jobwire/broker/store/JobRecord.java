package io.jobwire.broker.store;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** A row of {@code jobs}, with its attempt history when it was asked for. */
public record JobRecord(
        long id,
        String type,
        String queue,
        JobStatus state,
        int priority,
        Instant runAt,
        String payload,
        Map<String, String> labels,
        String owner,
        String idempotencyKey,
        int maxAttempts,
        int attempt,
        int releases,
        long leaseDurationMs,
        Long retryInitialMs,
        Long retryMaxMs,
        UUID leaseToken,
        Instant leaseExpiresAt,
        String workerId,
        Float progressPercent,
        String progressMessage,
        String progressDetails,
        Instant progressAt,
        String result,
        String lastError,
        Instant createdAt,
        Instant updatedAt,
        Instant startedAt,
        Instant finishedAt,
        long version,
        /** The job whose job token submitted this one, or null. */
        Long parentId,
        /** Where its callback goes, or null for none. */
        String callbackUrl,
        boolean callbackAll,
        /** The W3C trace context of the Submit that made it, or null (see {@link NewJob#traceParent()}). */
        String traceParent,
        String traceState,
        /** The longest one attempt may run, or null (see {@link NewJob#runTimeoutMs()}). */
        Long runTimeoutMs,
        /** Its concurrency key with limit and strategy, or nulls (see {@link NewJob#concurrencyKey()}). */
        String concurrencyKey,
        Integer concurrencyLimit,
        String concurrencyStrategy,
        /**
         * For a live job of a concurrency key or a rate key: whether it is let through (holds its slot and
         * its token); null otherwise.
         */
        Boolean keyAdmitted,
        /** For a live job of a concurrency key: whether it holds a slot; null otherwise. */
        Boolean keySlot,
        /** Its rate key, or null (see {@link NewJob#rateKey()}). */
        String rateKey,
        /** The jobs it depends on, or null (see {@link NewJob#dependsOn()}), and cancel or run. */
        List<Long> dependsOn,
        String onDependencyFailure,
        List<AttemptRecord> attempts) {

    public JobRecord withAttempts(List<AttemptRecord> history) {
        return new JobRecord(id, type, queue, state, priority, runAt, payload, labels, owner, idempotencyKey,
                maxAttempts, attempt, releases, leaseDurationMs, retryInitialMs, retryMaxMs, leaseToken,
                leaseExpiresAt, workerId, progressPercent, progressMessage, progressDetails, progressAt, result,
                lastError, createdAt, updatedAt, startedAt, finishedAt, version, parentId, callbackUrl, callbackAll, traceParent, traceState,
                runTimeoutMs, concurrencyKey, concurrencyLimit, concurrencyStrategy, keyAdmitted, keySlot, rateKey, dependsOn, onDependencyFailure, List.copyOf(history));
    }

    public LeaseRef lease() {
        return new LeaseRef(id, attempt, leaseToken);
    }

    /** What watchers and the other brokers learn about this version of the job. */
    public JobChange change() {
        return new JobChange(id, version, state, attempt, runAt, type, queue, owner, false, false, concurrencyKey, rateKey);
    }
}
