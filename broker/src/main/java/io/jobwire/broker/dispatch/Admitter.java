package io.jobwire.broker.dispatch;

import io.jobwire.broker.events.ChangeListener;
import io.jobwire.broker.store.ConcurrencyKeys;
import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobStatus;
import io.jobwire.broker.store.JobStore;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Admits jobs of concurrency keys into the ready ring (see {@link ConcurrencyKeys}). A change made on this
 * broker to a keyed job (submitted, finished, cancelled, held, queued again) may need or free a slot: its
 * key is admitted on the {@code jobwire-admit} thread right after, many keys per transaction. {@link
 * #admitAllWaiting} is the maintenance pass that also admits what became due later (delayed jobs) or
 * what a broker that died before admitting left waiting. Admitted jobs wake the dispatchers.
 */
public final class Admitter implements ChangeListener, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Admitter.class);
    /** Keys per admission transaction. */
    private static final int KEYS_PER_PASS = 500;
    private static final long RETRY_PAUSE_MS = 200;

    private final ConcurrencyKeys keys;
    private final JobStore store;
    private final Runnable wakeDispatchers;
    private final Set<String> pending = new LinkedHashSet<>();
    private final Thread thread;
    private boolean closed;

    /** @param wakeDispatchers tells this broker's and the other brokers' dispatchers that jobs are due now */
    public Admitter(ConcurrencyKeys keys, JobStore store, Runnable wakeDispatchers) {
        this.keys = keys;
        this.store = store;
        this.wakeDispatchers = wakeDispatchers;
        this.thread = new Thread(this::run, "jobwire-admit");
        this.thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    @Override
    public void onChanges(List<JobChange> changes) {
        boolean any = false;
        synchronized (this) {
            for (JobChange change : changes) {
                if (change.concurrencyKey() != null && change.state() != JobStatus.RUNNING) {
                    any |= pending.add(change.concurrencyKey());
                }
            }
            if (any) {
                notifyAll();
            }
        }
    }

    /** Admits every key that has jobs waiting; returns how many jobs it admitted. */
    public int admitAllWaiting() {
        int admitted = 0;
        String after = "";
        while (true) {
            List<String> page = keys.waitingKeys(after, KEYS_PER_PASS);
            if (page.isEmpty()) {
                break;
            }
            admitted += settle(keys.admit(page));
            after = page.get(page.size() - 1);
        }
        return admitted;
    }

    /**
     * Wakes the dispatchers for what was admitted, and cancels what the keys' strategies refused (each
     * cancel frees or needs no slot; its change brings the key's next pass). Returns the jobs admitted.
     */
    private int settle(ConcurrencyKeys.Admission admission) {
        if (admission.admitted() > 0) {
            wakeDispatchers.run();
        }
        for (ConcurrencyKeys.Refusal refusal : admission.refusals()) {
            String reason = refusal.why().equals("full")
                    ? "concurrency key " + refusal.key() + " was at its limit (cancel-newest)"
                    : "superseded by a newer job of concurrency key " + refusal.key() + " (cancel-in-progress)";
            try {
                store.cancel(refusal.jobId(), null, reason);
            } catch (RuntimeException e) {
                log.warn("could not cancel job {} for concurrency key {} ({})", refusal.jobId(), refusal.key(), e.getMessage());
            }
        }
        return admission.admitted();
    }

    private void run() {
        while (true) {
            List<String> batch;
            synchronized (this) {
                while (!closed && pending.isEmpty()) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) {
                    return;
                }
                batch = new ArrayList<>(KEYS_PER_PASS);
                var it = pending.iterator();
                while (it.hasNext() && batch.size() < KEYS_PER_PASS) {
                    batch.add(it.next());
                    it.remove();
                }
            }
            try {
                settle(keys.admit(batch));
            } catch (RuntimeException e) {
                log.warn("could not admit jobs of {} concurrency key(s) ({}); trying again", batch.size(), e.getMessage());
                synchronized (this) {
                    pending.addAll(batch);
                }
                try {
                    Thread.sleep(RETRY_PAUSE_MS);
                } catch (InterruptedException interrupted) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        thread.interrupt();
    }
}
