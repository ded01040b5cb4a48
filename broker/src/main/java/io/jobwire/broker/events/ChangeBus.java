package io.jobwire.broker.events;

import io.jobwire.broker.store.ChangeSink;
import io.jobwire.broker.store.JobChange;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fans committed job changes out to the parts of the broker that react to them: the dispatcher (new
 * work), the worker sessions (cancellations) and the watchers. Changes made here arrive from the store;
 * changes made by other brokers arrive from {@link PgChangeListener}.
 */
public final class ChangeBus implements ChangeSink {
    private static final Logger log = LoggerFactory.getLogger(ChangeBus.class);

    private final List<ChangeListener> listeners = new CopyOnWriteArrayList<>();

    public void subscribe(ChangeListener listener) {
        listeners.add(listener);
    }

    @Override
    public void publish(List<JobChange> changes) {
        if (changes.isEmpty()) {
            return;
        }
        for (ChangeListener listener : listeners) {
            try {
                listener.onChanges(changes);
            } catch (RuntimeException e) {
                log.error("change listener {} failed", listener, e);
            }
        }
    }

    /** Another broker's queued jobs became due now, or become due at those times. */
    public void due(boolean now, List<java.time.Instant> later) {
        for (ChangeListener listener : listeners) {
            try {
                listener.onDue(now, later);
            } catch (RuntimeException e) {
                log.error("change listener {} failed on due jobs", listener, e);
            }
        }
    }

    public void resync() {
        for (ChangeListener listener : listeners) {
            try {
                listener.onResync();
            } catch (RuntimeException e) {
                log.error("change listener {} failed to resync", listener, e);
            }
        }
    }
}
