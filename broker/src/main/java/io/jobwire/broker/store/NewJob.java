package io.jobwire.broker.store;

import java.time.Instant;
import java.util.Map;

/**
 * A validated job ready to insert. Exactly one of {@code runAt} and {@code delayMs} decides when it is
 * due: {@code runAt} when not null, else now (database clock) plus {@code delayMs}.
 */
public record NewJob(
        String type,
        String queue,
        String payloadJson,
        int priority,
        Instant runAt,
        long delayMs,
        String idempotencyKey,
        int maxAttempts,
        long leaseDurationMs,
        Map<String, String> labels,
        Long retryInitialMs,
        Long retryMaxMs,
        String owner,
        /** The job whose job token submitted this one, or null. */
        Long parentId,
        /** Where its callback goes, or null for none. */
        String callbackUrl,
        /** The callback hears of every change of state, not only the final one. */
        boolean callbackAll,
        /** The W3C traceparent its workers' handlers continue, or null outside a trace. */
        String traceParent,
        /** The W3C tracestate that goes with it, or null. */
        String traceState,
        /** The longest one attempt may run, or null for no limit but the lease. */
        Long runTimeoutMs,
        /** Its concurrency key, or null for none; then limit and strategy are null too. */
        String concurrencyKey,
        Integer concurrencyLimit,
        /** queue, cancel-newest or cancel-in-progress. */
        String concurrencyStrategy,
        /** Its rate key, or null for none (never with a concurrency key). */
        String rateKey,
        /** The jobs it waits for, or null for none: it is written WAITING. */
        java.util.List<Long> dependsOn,
        /** cancel or run; null without dependsOn. */
        String onDependencyFailure,
        /** Its turn under its type's fair share (1,000,000 / its owner's weight), or null: the type has none. */
        Long fairStep) {

    /** The same job without a parent (what a caller without a job token submits). */
    public NewJob(String type, String queue, String payloadJson, int priority, Instant runAt, long delayMs,
                  String idempotencyKey, int maxAttempts, long leaseDurationMs, Map<String, String> labels,
                  Long retryInitialMs, Long retryMaxMs, String owner) {
        this(type, queue, payloadJson, priority, runAt, delayMs, idempotencyKey, maxAttempts, leaseDurationMs, labels,
                retryInitialMs, retryMaxMs, owner, null, null, false, null, null, null, null, null, null, null, null, null, null);
    }

    /** The same job in this trace. */
    public NewJob inTrace(String parent, String state) {
        return new NewJob(type, queue, payloadJson, priority, runAt, delayMs, idempotencyKey, maxAttempts, leaseDurationMs,
                labels, retryInitialMs, retryMaxMs, owner, parentId, callbackUrl, callbackAll, parent, state, runTimeoutMs,
                concurrencyKey, concurrencyLimit, concurrencyStrategy, rateKey, dependsOn, onDependencyFailure, fairStep);
    }

    /** Whether the job is due at {@code now} (a delay counts from its insert, so only no delay is). */
    public boolean isDueAt(Instant now) {
        return runAt == null ? delayMs <= 0 : !runAt.isAfter(now);
    }
}
