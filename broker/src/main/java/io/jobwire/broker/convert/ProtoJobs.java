package io.jobwire.broker.convert;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.jobwire.api.v1.Callback;
import io.jobwire.api.v1.CallbackEvents;
import io.jobwire.api.v1.Attempt;
import io.jobwire.api.v1.AttemptOutcome;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.Progress;
import io.jobwire.api.v1.RetryPolicy;
import io.jobwire.broker.store.AttemptRecord;
import io.jobwire.broker.store.JobRecord;
import io.jobwire.broker.store.JobStatus;
import java.time.Instant;
import java.util.Locale;

/** Converts stored jobs to the wire types. */
public final class ProtoJobs {
    private ProtoJobs() {
    }

    /** A stored strategy name as the contract's enum (null: queue). */
    public static io.jobwire.api.v1.ConcurrencyStrategy strategy(String stored) {
        return switch (stored == null ? "queue" : stored) {
            case "cancel-newest" -> io.jobwire.api.v1.ConcurrencyStrategy.CONCURRENCY_STRATEGY_CANCEL_NEWEST;
            case "cancel-in-progress" -> io.jobwire.api.v1.ConcurrencyStrategy.CONCURRENCY_STRATEGY_CANCEL_IN_PROGRESS;
            default -> io.jobwire.api.v1.ConcurrencyStrategy.CONCURRENCY_STRATEGY_QUEUE;
        };
    }

    public static Job toProto(JobRecord job) {
        Job.Builder proto = Job.newBuilder()
                .setId(Long.toString(job.id()))
                .setType(job.type())
                .setQueue(job.queue())
                .setPayload(job.payload())
                .setPriority(job.priority())
                .setRunAt(timestamp(job.runAt()))
                .setMaxAttempts(job.maxAttempts())
                .setLeaseDuration(millis(job.leaseDurationMs()))
                .putAllLabels(job.labels())
                .setOwner(job.owner())
                .setState(state(job.state()))
                .setAttempt(job.attempt())
                .setReleases(job.releases())
                .setCreatedAt(timestamp(job.createdAt()))
                .setUpdatedAt(timestamp(job.updatedAt()))
                .setVersion(job.version());
        if (job.idempotencyKey() != null) {
            proto.setIdempotencyKey(job.idempotencyKey());
        }
        if (job.parentId() != null) {
            proto.setParentId(Long.toString(job.parentId()));
        }
        if (job.runTimeoutMs() != null) {
            proto.setRunTimeout(millis(job.runTimeoutMs()));
        }
        if (job.concurrencyKey() != null) {
            proto.setConcurrencyKey(job.concurrencyKey())
                    .setConcurrencyLimit(job.concurrencyLimit() == null ? 1 : job.concurrencyLimit())
                    .setConcurrencyStrategy(strategy(job.concurrencyStrategy()))
                    .setWaitingForKey(job.state() == JobStatus.QUEUED && Boolean.FALSE.equals(job.keySlot()));
        }
        if (job.dependsOn() != null) {
            job.dependsOn().forEach(id -> proto.addDependsOn(Long.toString(id)));
            proto.setOnDependencyFailure("run".equals(job.onDependencyFailure())
                    ? io.jobwire.api.v1.DependencyFailure.DEPENDENCY_FAILURE_RUN
                    : io.jobwire.api.v1.DependencyFailure.DEPENDENCY_FAILURE_CANCEL);
        }
        if (job.rateKey() != null) {
            proto.setRateKey(job.rateKey())
                    .setWaitingForRate(job.state() == JobStatus.QUEUED && Boolean.FALSE.equals(job.keyAdmitted())
                            && !Boolean.FALSE.equals(job.keySlot()));
        }
        if (job.callbackUrl() != null) {
            proto.setCallback(Callback.newBuilder().setUrl(job.callbackUrl()).setEvents(job.callbackAll()
                    ? CallbackEvents.CALLBACK_EVENTS_ALL : CallbackEvents.CALLBACK_EVENTS_FINAL));
        }
        if (job.retryInitialMs() != null || job.retryMaxMs() != null) {
            RetryPolicy.Builder policy = RetryPolicy.newBuilder();
            if (job.retryInitialMs() != null) {
                policy.setInitialDelay(millis(job.retryInitialMs()));
            }
            if (job.retryMaxMs() != null) {
                policy.setMaxDelay(millis(job.retryMaxMs()));
            }
            proto.setRetryPolicy(policy);
        }
        if (job.progressAt() != null) {
            Progress.Builder progress = Progress.newBuilder().setUpdatedAt(timestamp(job.progressAt()));
            if (job.progressPercent() != null) {
                progress.setPercent(job.progressPercent());
            }
            if (job.progressMessage() != null) {
                progress.setMessage(job.progressMessage());
            }
            if (job.progressDetails() != null) {
                progress.setDetails(job.progressDetails());
            }
            proto.setProgress(progress);
        }
        if (job.result() != null) {
            proto.setResult(job.result());
        }
        if (job.lastError() != null) {
            proto.setLastError(job.lastError());
        }
        if (job.startedAt() != null) {
            proto.setStartedAt(timestamp(job.startedAt()));
        }
        if (job.finishedAt() != null) {
            proto.setFinishedAt(timestamp(job.finishedAt()));
        }
        if (job.workerId() != null) {
            proto.setWorkerId(job.workerId());
        }
        if (job.leaseExpiresAt() != null) {
            proto.setLeaseExpiresAt(timestamp(job.leaseExpiresAt()));
        }
        for (AttemptRecord attempt : job.attempts()) {
            proto.addAttempts(toProto(attempt));
        }
        return proto.build();
    }

    static Attempt toProto(AttemptRecord attempt) {
        Attempt.Builder proto = Attempt.newBuilder()
                .setAttempt(attempt.attempt())
                .setWorkerId(attempt.workerId())
                .setStartedAt(timestamp(attempt.startedAt()))
                .setOutcome(AttemptOutcome.valueOf("ATTEMPT_OUTCOME_" + attempt.outcome().toUpperCase(Locale.ROOT)));
        if (attempt.finishedAt() != null) {
            proto.setFinishedAt(timestamp(attempt.finishedAt()));
        }
        if (attempt.error() != null) {
            proto.setError(attempt.error());
        }
        return proto.build();
    }

    public static JobState state(JobStatus status) {
        return status == null ? JobState.JOB_STATE_UNSPECIFIED : JobState.valueOf("JOB_STATE_" + status.name());
    }

    /** The stored state for a wire state, or null for UNSPECIFIED / unknown values. */
    public static JobStatus status(JobState state) {
        return switch (state) {
            case JOB_STATE_QUEUED -> JobStatus.QUEUED;
            case JOB_STATE_RUNNING -> JobStatus.RUNNING;
            case JOB_STATE_SUCCEEDED -> JobStatus.SUCCEEDED;
            case JOB_STATE_FAILED -> JobStatus.FAILED;
            case JOB_STATE_CANCELLED -> JobStatus.CANCELLED;
            case JOB_STATE_HELD -> JobStatus.HELD;
            case JOB_STATE_WAITING -> JobStatus.WAITING;
            default -> null;
        };
    }

    public static Timestamp timestamp(Instant instant) {
        return Timestamp.newBuilder().setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
    }

    public static Duration duration(java.time.Duration duration) {
        return Duration.newBuilder().setSeconds(duration.getSeconds()).setNanos(duration.getNano()).build();
    }

    static Duration millis(long millis) {
        return duration(java.time.Duration.ofMillis(millis));
    }
}
