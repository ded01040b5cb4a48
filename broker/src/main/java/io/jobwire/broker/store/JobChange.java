package io.jobwire.broker.store;

import java.time.Instant;

/**
 * A committed change to a job. Changes made through this broker carry type, queue and owner; changes
 * learnt from another broker's notification carry only what fits in it, and those fields are null.
 *
 * @param byHolder made for the lease holder's own stream, on the broker that holds it: a claim, or a
 *                 heartbeat, progress report, completion, failure or release under the lease. No other
 *                 broker holds that job, so only their watchers need to hear of it.
 * @param timedOut the reaper ended the attempt because it ran past its run timeout: its worker is told
 *                 to stop
 * @param concurrencyKey the job's concurrency key, or null (also in changes learnt from another broker):
 *                 a change of a keyed job made here may free or need a slot, so this broker admits
 * @param rateKey  the job's rate key, or null (also in changes learnt from another broker): a job of a
 *                 rate key queued here waits for this broker's admission
 */
public record JobChange(
        long id,
        long version,
        JobStatus state,
        int attempt,
        Instant runAt,
        String type,
        String queue,
        String owner,
        boolean byHolder,
        boolean timedOut,
        String concurrencyKey,
        String rateKey) {

    public JobChange(long id, long version, JobStatus state, int attempt, Instant runAt, String type, String queue,
                     String owner) {
        this(id, version, state, attempt, runAt, type, queue, owner, false, false, null, null);
    }

    public boolean isRemote() {
        return type == null;
    }

    /** This change, as made by the lease holder's own stream. */
    public JobChange fromHolder() {
        return new JobChange(id, version, state, attempt, runAt, type, queue, owner, true, timedOut, concurrencyKey, rateKey);
    }

    /** This change, as the end of an attempt that ran past its run timeout. */
    public JobChange asTimedOut() {
        return new JobChange(id, version, state, attempt, runAt, type, queue, owner, byHolder, true, concurrencyKey, rateKey);
    }
}
