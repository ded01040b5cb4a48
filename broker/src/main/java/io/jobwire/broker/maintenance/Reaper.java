package io.jobwire.broker.maintenance;

import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobStatus;

import io.jobwire.broker.metrics.BrokerMetrics;
import io.jobwire.broker.store.JobStore;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes back jobs whose lease ran out (the worker died, froze or lost its network): queued again at
 * once, or FAILED when attempts are spent; and attempts that ran past their run timeout (their lease
 * was capped there): a retryable failure, queued again after the job's backoff. Run it every reaper
 * interval; every broker runs one and they never conflict, because each update re-checks the expiry of
 * the rows it touches.
 */
public final class Reaper {
    private static final Logger log = LoggerFactory.getLogger(Reaper.class);
    /** Jobs named one line each per batch; the rest are counted in one line. */
    private static final int LOGGED_PER_BATCH = 20;
    /** Lease entries per transaction: most are of attempts that ended, and only dropped. */
    static final int BATCH = 2_000;

    private final JobStore store;
    private volatile Runnable betweenChoiceAndUpdate = () -> { };

    private final BrokerMetrics metrics;

    public Reaper(JobStore store, BrokerMetrics metrics) {
        this.metrics = metrics;
        this.store = store;
    }

    /** Test seam: runs after the reaper chose its jobs and before it updates them. */
    public void setBetweenChoiceAndUpdate(Runnable hook) {
        this.betweenChoiceAndUpdate = hook;
    }

    /** Reaps every job expired now, in batches. Returns how many were taken back. */
    public int reapAll() {
        int total = 0;
        while (true) {
            JobStore.Reaped batch = store.reapExpired(BATCH, betweenChoiceAndUpdate);
            total += batch.changes().size();
            int told = 0;
            for (JobChange change : batch.changes()) {
                boolean timedOut = change.timedOut();
                if (timedOut) {
                    metrics.timedOut(change.type(), change.queue());
                } else {
                    metrics.leaseExpired(change.type(), change.queue());
                }
                if (++told > LOGGED_PER_BATCH) {
                    continue;
                }
                log.atWarn().addKeyValue("job_id", String.valueOf(change.id())).addKeyValue("job_type", change.type())
                        .addKeyValue("owner", change.owner()).addKeyValue("attempt", change.attempt())
                        .log(timedOut ? "job {} ({}) ran past its run timeout in attempt {}: its worker is told to stop; "
                                        + "the job is {}"
                                        : "the lease of job {} ({}) ran out in attempt {}: its worker went silent; the job is {}",
                                change.id(), change.type(), change.attempt(),
                                change.state() == JobStatus.FAILED ? "FAILED (no attempts left)"
                                        : timedOut ? "queued again after its backoff" : "queued again");
            }
            if (told > LOGGED_PER_BATCH) {
                log.warn("and the leases of {} more jobs ran out (a worker or a host went away?)", told - LOGGED_PER_BATCH);
            }
            if (!batch.more()) {
                return total;
            }
        }
    }
}
