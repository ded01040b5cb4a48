package io.jobwire.broker.events;

import io.jobwire.broker.store.ChangeSink;
import io.jobwire.broker.store.JobChange;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the other brokers on the database about the changes this broker commits, after the commit and
 * off the write path. The job writes commit without notifying: a commit that notifies takes a lock on
 * the whole database and holds it through its WAL flush, which would line up every write of every
 * broker behind one another. Instead this thread sends whatever gathered while it sent the last batch,
 * in one statement and one transaction.
 *
 * <p>While no other broker listens ({@code peersListening} false) nothing is sent at all. Notifications
 * are hints, and polling stays the source of truth: if this broker stops between a commit and its
 * notification, the others find the change by polling. If more than {@code capacity} changes wait (the
 * database is unreachable, or slower than the writes), they are dropped and the others are told to
 * re-read instead.
 */
public final class ChangeAnnouncer implements ChangeSink, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChangeAnnouncer.class);
    private static final long FAILURE_LOG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Jdbi jdbi;
    private final String origin;
    private final BooleanSupplier peersListening;
    private final int capacity;
    private final Thread thread;
    private final LongAdder sent = new LongAdder();
    private List<JobChange> pending = new ArrayList<>();
    private boolean overflowed;
    private boolean closed;
    private long lastFailureLog = System.nanoTime() - FAILURE_LOG_EVERY_NANOS;

    /**
     * @param jdbi           where to send (a pooled connection for each batch)
     * @param origin         this broker's id; receivers ignore their own notifications
     * @param peersListening whether another broker listens now
     * @param capacity       the most changes kept waiting before they are replaced by a resync hint
     */
    public ChangeAnnouncer(Jdbi jdbi, String origin, BooleanSupplier peersListening, int capacity) {
        this.jdbi = jdbi;
        this.origin = Notifications.checkOrigin(origin);
        this.peersListening = peersListening;
        this.capacity = capacity;
        this.thread = new Thread(this::run, "jobwire-announce");
        this.thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    @Override
    public void publish(List<JobChange> changes) {
        if (changes.isEmpty() || !peersListening.getAsBoolean()) {
            return;
        }
        synchronized (this) {
            if (closed || overflowed) {
                return;
            }
            if (pending.size() + changes.size() > capacity) {
                pending = new ArrayList<>();
                overflowed = true;
            } else {
                pending.addAll(changes);
            }
            notifyAll();
        }
    }

    /** Notifications sent so far (each payload counts). */
    public long sent() {
        return sent.sum();
    }

    private void run() {
        while (true) {
            List<JobChange> batch;
            boolean resync;
            synchronized (this) {
                while (!closed && pending.isEmpty() && !overflowed) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (pending.isEmpty() && !overflowed) {
                    return;
                }
                batch = pending;
                resync = overflowed;
                pending = new ArrayList<>();
                overflowed = false;
            }
            send(resync ? List.of(Notifications.resync(origin)) : Notifications.changes(origin, batch));
        }
    }

    private void send(List<String> payloads) {
        try {
            jdbi.useHandle(handle -> handle.createQuery("SELECT count(pg_notify(:channel, p)) FROM unnest(:payloads) p")
                    .bind("channel", Notifications.CHANNEL)
                    .bind("payloads", payloads.toArray(String[]::new))
                    .mapTo(Long.class)
                    .one());
            sent.add(payloads.size());
        } catch (RuntimeException e) {
            long now = System.nanoTime();
            if (now - lastFailureLog >= FAILURE_LOG_EVERY_NANOS) {
                lastFailureLog = now;
                log.warn("could not tell other brokers about {} notification(s) ({}); they will find the changes "
                        + "by polling", payloads.size(), e.getMessage());
            }
        }
    }

    /** Sends what is waiting, then stops. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
