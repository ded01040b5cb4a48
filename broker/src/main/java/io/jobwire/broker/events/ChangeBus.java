package io.jobwire.broker.events;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import io.jobwire.broker.store.ChangeSink;
import io.jobwire.broker.store.JobChange;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fans committed job changes out to the parts of the broker that react to them: the dispatcher (new
 * work), the worker sessions (cancellations) and the watchers. Changes made here arrive from the store;
 * changes made by other brokers arrive from {@link PgChangeListener}.
 *
 * <p>The listeners run on the bus's own thread ({@code jobwire-changes}), one delivery at a time in the
 * order they were published: a commit thread hands its changes over and goes on to answer its callers, so
 * matching a batch against many watchers never delays a submit. When more than {@code capacity}
 * deliveries wait, the oldest waiting ones are replaced by one resync (each listener then reads what it
 * needs afresh), so a slow listener costs a resync, not the broker's heap.
 */
public final class ChangeBus implements ChangeSink, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChangeBus.class);

    private final List<ChangeListener> listeners = new CopyOnWriteArrayList<>();
    private final ExecutorService thread;
    private final int capacity;
    private final Deque<Runnable> waiting = new ArrayDeque<>();
    private boolean draining;
    private boolean closed;

    /** A bus that delivers on its own thread, with at most {@code capacity} deliveries waiting. */
    public ChangeBus(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be positive");
        }
        this.capacity = capacity;
        this.thread = Executors.newSingleThreadExecutor(new ThreadFactoryBuilder().setNameFormat("jobwire-changes")
                .setDaemon(true).build());
    }

    public void subscribe(ChangeListener listener) {
        listeners.add(listener);
    }

    @Override
    public void publish(List<JobChange> changes) {
        if (!changes.isEmpty()) {
            deliver(() -> each("changes", listener -> listener.onChanges(changes)));
        }
    }

    /** Another broker's queued jobs became due now, or become due at those times. */
    public void due(boolean now, List<java.time.Instant> later) {
        deliver(() -> each("due jobs", listener -> listener.onDue(now, later)));
    }

    /** Every listener reads what it needs afresh (changes may have been missed). */
    public void resync() {
        deliver(this::resyncNow);
    }

    /** Nothing waits to be delivered and no delivery is under way. */
    public boolean idle() {
        synchronized (waiting) {
            return waiting.isEmpty() && !draining;
        }
    }

    private void resyncNow() {
        each("resync", ChangeListener::onResync);
    }

    private void deliver(Runnable delivery) {
        synchronized (waiting) {
            if (closed) {
                return;
            }
            if (waiting.size() >= capacity) {
                log.warn("change listeners are {} deliveries behind; replacing them with a resync", waiting.size());
                waiting.clear();
                waiting.add(this::resyncNow);
            }
            waiting.add(delivery);
            if (!draining) {
                draining = true;
                thread.execute(this::drain);
            }
        }
    }

    /** On the bus's thread: runs what waits, in order, until nothing does. */
    private void drain() {
        while (true) {
            Runnable next;
            synchronized (waiting) {
                next = waiting.poll();
                if (next == null) {
                    draining = false;
                    return;
                }
            }
            next.run();
        }
    }

    private void each(String what, java.util.function.Consumer<ChangeListener> call) {
        for (ChangeListener listener : listeners) {
            try {
                call.accept(listener);
            } catch (RuntimeException e) {
                log.error("change listener {} failed on {}", listener, what, e);
            }
        }
    }

    /** Delivers nothing more; waits briefly for the delivery under way. */
    @Override
    public void close() {
        synchronized (waiting) {
            closed = true;
            waiting.clear();
        }
        thread.shutdown();
        try {
            thread.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
