package io.jobwire.broker.dispatch;

import io.jobwire.broker.metrics.BrokerMetrics;
import io.jobwire.broker.store.JobStore;
import io.jobwire.broker.store.Transition;

/**
 * The cancels the broker makes on its own, for a concurrency key's strategy or a dependency that did not
 * succeed: as any owner's, and counted in the metrics as a Cancel call's are.
 */
public final class BrokerCancels {
    private final JobStore store;
    private final BrokerMetrics metrics;

    public BrokerCancels(JobStore store, BrokerMetrics metrics) {
        this.store = store;
        this.metrics = metrics;
    }

    /** Cancels the job if it has not finished; {@code reason} becomes its last error. */
    public void cancel(long jobId, String reason) {
        Transition cancel = store.cancel(jobId, null, reason);
        if (cancel.applied()) {
            metrics.cancelled(cancel.job().type(), cancel.job().queue());
        }
    }
}
