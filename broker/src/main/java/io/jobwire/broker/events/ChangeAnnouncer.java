package io.jobwire.broker.events;

import io.jobwire.broker.store.ChangeSink;
import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobStatus;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
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
 * <p>Other brokers hear what they need. While one of them has watchers ({@code peersWatching}), every
 * change, job by job. Otherwise only what their dispatchers and worker sessions need: that queued jobs
 * no lease holds (new, released, retried) are due now or at a time, gathered into one hint per batch
 * whatever the jobs; and, job by job, the changes that may end a lease held through another broker
 * (cancelled, reaped, held). A change the lease holder's own stream made here (a claim, a completion, a
 * failure) concerns no other broker's workers, and is not sent. Measured with three brokers on one
 * database, sending every change cost a quarter of the brokers' CPU and a fifth of the throughput.
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
    private final BooleanSupplier peersWatching;
    private final int capacity;
    private final Thread thread;
    private final LongAdder sent = new LongAdder();
    private List<JobChange> pending = new ArrayList<>();
    private boolean dueNow;
    private java.util.SortedSet<Long> dueLater = new java.util.TreeSet<>();
    private boolean overflowed;
    private boolean closed;
    private long lastFailureLog = System.nanoTime() - FAILURE_LOG_EVERY_NANOS;

    /**
     * @param jdbi           where to send (a pooled connection for each batch)
     * @param origin         this broker's id; receivers ignore their own notifications
     * @param peersListening whether another broker listens now
     * @param peersWatching  whether another broker has watchers now
     * @param capacity       the most changes (and due times) kept waiting before they are replaced by a resync hint
     */
    public ChangeAnnouncer(Jdbi jdbi, String origin, BooleanSupplier peersListening, BooleanSupplier peersWatching,
                           int capacity) {
        this.jdbi = jdbi;
        this.origin = Notifications.checkOrigin(origin);
        this.peersListening = peersListening;
        this.peersWatching = peersWatching;
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
        List<JobChange> jobs = changes;
        boolean now = false;
        List<Long> later = List.of();
        if (!peersWatching.getAsBoolean()) {
            jobs = new ArrayList<>();
            later = new ArrayList<>();
            Set<Long> claimedHere = new HashSet<>();
            for (JobChange change : changes) {
                if (change.byHolder() && change.state() == JobStatus.RUNNING) {
                    claimedHere.add(change.id());
                }
            }
            long nowMillis = System.currentTimeMillis();
            for (JobChange change : changes) {
                boolean unleased = change.attempt() == 0 || change.byHolder();
                if (change.state() == JobStatus.QUEUED && unleased) {
                    if (change.runAt() != null && change.runAt().toEpochMilli() > nowMillis) {
                        later.add(change.runAt().toEpochMilli());
                    } else if (!claimedHere.contains(change.id())) {
                        now = true; // a job submitted and claimed in one commit needs no other broker
                    }
                } else if (!change.byHolder()) {
                    jobs.add(change);
                }
            }
            if (jobs.isEmpty() && !now && later.isEmpty()) {
                return;
            }
        }
        synchronized (this) {
            if (closed || overflowed) {
                return;
            }
            if (pending.size() + dueLater.size() + jobs.size() + later.size() > capacity) {
                pending = new ArrayList<>();
                dueNow = false;
                dueLater = new java.util.TreeSet<>();
                overflowed = true;
            } else {
                pending.addAll(jobs);
                dueNow |= now;
                dueLater.addAll(later);
            }
            notifyAll();
        }
    }

    /** Tells the other brokers that jobs may be due now (a queue or type was resumed). */
    public void dueNow() {
        if (!peersListening.getAsBoolean()) {
            return;
        }
        synchronized (this) {
            if (closed || overflowed) {
                return;
            }
            dueNow = true;
            notifyAll();
        }
    }

    private boolean nothingPending() {
        return pending.isEmpty() && !dueNow && dueLater.isEmpty() && !overflowed;
    }

    /** Notifications sent so far (each payload counts). */
    public long sent() {
        return sent.sum();
    }

    private void run() {
        while (true) {
            List<JobChange> batch;
            boolean now;
            java.util.SortedSet<Long> later;
            boolean resync;
            synchronized (this) {
                while (!closed && nothingPending()) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (nothingPending()) {
                    return;
                }
                batch = pending;
                now = dueNow;
                later = dueLater;
                resync = overflowed;
                pending = new ArrayList<>();
                dueNow = false;
                dueLater = new java.util.TreeSet<>();
                overflowed = false;
            }
            if (resync) {
                send(List.of(Notifications.resync(origin)));
                continue;
            }
            List<String> payloads = new ArrayList<>(Notifications.changes(origin, batch));
            if (now || !later.isEmpty()) {
                payloads.addAll(Notifications.due(origin, now, later));
            }
            send(payloads);
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
