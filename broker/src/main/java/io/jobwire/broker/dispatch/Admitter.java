package io.jobwire.broker.dispatch;

import io.jobwire.broker.events.ChangeListener;
import io.jobwire.broker.store.ConcurrencyKeys;
import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
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

    private final ConcurrencyKeys keys;
    private final BrokerCancels cancels;
    private final Runnable wakeDispatchers;
    private final Consumer<List<String>> rateKeysWaiting;
    private final BatchLoop<String> loop;

    /**
     * @param wakeDispatchers tells this broker's and the other brokers' dispatchers that jobs are due now
     * @param rateKeysWaiting gets the rate keys of jobs admitted that wait for a token now (jobs of both
     *     kinds of key: {@link RateAdmitter#passSoon})
     */
    public Admitter(ConcurrencyKeys keys, BrokerCancels cancels, Runnable wakeDispatchers,
            Consumer<List<String>> rateKeysWaiting) {
        this.keys = keys;
        this.cancels = cancels;
        this.wakeDispatchers = wakeDispatchers;
        this.rateKeysWaiting = rateKeysWaiting;
        this.loop = new BatchLoop<>("jobwire-admit", "admit the jobs of concurrency keys", KEYS_PER_PASS,
                batch -> settle(keys.admit(batch)));
    }

    public void start() {
        loop.start();
    }

    @Override
    public void onChanges(List<JobChange> changes) {
        List<String> keyed = new ArrayList<>();
        for (JobChange change : changes) {
            if (change.concurrencyKey() != null && change.state() != JobStatus.RUNNING) {
                keyed.add(change.concurrencyKey());
            }
        }
        if (!keyed.isEmpty()) {
            loop.addAll(keyed);
        }
    }

    /** Admits every key that has jobs waiting; returns how many jobs it admitted. */
    public int admitAllWaiting() {
        return BatchLoop.forEachWaitingPage(keys::waitingKeys, KEYS_PER_PASS, page -> settle(keys.admit(page)));
    }

    /**
     * Wakes the dispatchers for what was admitted, and cancels what the keys' strategies refused (each
     * cancel frees or needs no slot; its change brings the key's next pass). Returns the jobs admitted.
     */
    private int settle(ConcurrencyKeys.Admission admission) {
        if (admission.ready() > 0) {
            wakeDispatchers.run();
        }
        if (!admission.rateKeys().isEmpty()) {
            rateKeysWaiting.accept(admission.rateKeys());
        }
        for (ConcurrencyKeys.Refusal refusal : admission.refusals()) {
            String reason = refusal.why().equals("full")
                    ? "concurrency key " + refusal.key() + " was at its limit (cancel-newest)"
                    : "superseded by a newer job of concurrency key " + refusal.key() + " (cancel-in-progress)";
            try {
                cancels.cancel(refusal.jobId(), reason);
            } catch (RuntimeException e) {
                log.warn("could not cancel job {} for concurrency key {} ({})", refusal.jobId(), refusal.key(), e.getMessage());
            }
        }
        return admission.admitted();
    }

    @Override
    public void close() {
        loop.close();
    }
}
