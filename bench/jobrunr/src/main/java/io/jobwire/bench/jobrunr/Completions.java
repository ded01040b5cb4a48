package io.jobwire.bench.jobrunr;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jobrunr.jobs.Job;
import org.jobrunr.jobs.filters.ApplyStateFilter;
import org.jobrunr.jobs.states.FailedState;
import org.jobrunr.jobs.states.JobState;
import org.jobrunr.jobs.states.StateName;

/**
 * Notes the moment the last job is SUCCEEDED in storage: JobRunr calls an {@link ApplyStateFilter} after it has saved
 * the job's new state to the StorageProvider. A FAILED job fails the run (JobRunr would otherwise retry it with back-off).
 */
final class Completions implements ApplyStateFilter {

    private final long expected;
    private final AtomicLong succeeded = new AtomicLong();
    private final AtomicReference<String> failure = new AtomicReference<>();
    private final CountDownLatch allSucceeded = new CountDownLatch(1);
    private volatile long lastSucceededNanos;

    Completions(long expected) {
        this.expected = expected;
    }

    @Override
    public void onStateApplied(Job job, JobState oldState, JobState newState) {
        if (newState.getName() == StateName.SUCCEEDED) {
            if (succeeded.incrementAndGet() == expected) {
                lastSucceededNanos = System.nanoTime();
                allSucceeded.countDown();
            }
        } else if (newState.getName() == StateName.FAILED) {
            String reason = newState instanceof FailedState failed
                    ? failed.getExceptionType() + ": " + failed.getExceptionMessage()
                    : "unknown reason";
            failure.compareAndSet(null, "job " + job.getId() + " failed: " + reason);
        }
    }

    boolean await(long timeout, TimeUnit unit) throws InterruptedException {
        return allSucceeded.await(timeout, unit);
    }

    long succeeded() {
        return succeeded.get();
    }

    /** System.nanoTime() when the last of the expected jobs was saved as SUCCEEDED. */
    long lastSucceededNanos() {
        return lastSucceededNanos;
    }

    /** The first failure, or null. */
    String failure() {
        return failure.get();
    }
}
