package io.jobwire.broker.dispatch;

import io.jobwire.broker.events.ChangeListener;
import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobStatus;
import io.jobwire.broker.store.RateLimits;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Admits jobs of rate keys into the ready ring as their tokens allow (see {@link RateLimits}), on the
 * {@code jobwire-rate} thread. A key gets a pass as soon as a change made on this broker queues one of its
 * jobs, then again whenever its bucket will hold enough tokens for the next few jobs, for as long as it has
 * jobs waiting: a limited job waits in the database, nothing spins. {@link #admitAllWaiting} is the
 * maintenance pass that finds keys with jobs due later (delayed) or left by another broker, and paces them
 * from here on. Admitted jobs wake the dispatchers.
 */
public final class RateAdmitter implements ChangeListener, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RateAdmitter.class);
    /** Keys per admission transaction. */
    private static final int KEYS_PER_PASS = 500;
    /** A pass aims at this much time's worth of tokens (or the burst, if less): about 50 passes a second at most. */
    private static final double PASS_SECONDS = 0.02;
    /** The shortest wait between passes of a key (a burst of 1 at a high rate). */
    private static final long MIN_PAUSE_NANOS = 2_000_000;
    /**
     * The longest wait of a key with jobs admitted and not started: a pass soon after workers take them
     * counts them started, so that the tokens accruing from then on are not capped by them.
     */
    private static final long HELD_PAUSE_NANOS = 20_000_000;
    /**
     * The wait of a key whose jobs admitted and not started leave its bucket no room for the next pass's
     * tokens: tokens that accrue while the bucket is full are lost (see admit_rates.sql), so the pass that
     * sees workers take them comes soon.
     */
    private static final long FULL_PAUSE_NANOS = 5_000_000;
    /** The longest wait: the maintenance pass looks at every key about this often anyway. */
    private static final long MAX_PAUSE_NANOS = 1_000_000_000;
    private static final long RETRY_PAUSE_NANOS = 200_000_000;

    private final RateLimits limits;
    private final Runnable wakeDispatchers;
    /** The keys this broker paces, with the System.nanoTime() of their next pass. */
    private final Map<String, Long> next = new HashMap<>();
    private final Thread thread;
    private boolean closed;

    /** @param wakeDispatchers tells this broker's and the other brokers' dispatchers that jobs are due now */
    public RateAdmitter(RateLimits limits, Runnable wakeDispatchers) {
        this.limits = limits;
        this.wakeDispatchers = wakeDispatchers;
        this.thread = new Thread(this::run, "jobwire-rate");
        this.thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    @Override
    public void onChanges(List<JobChange> changes) {
        List<String> keys = new ArrayList<>();
        for (JobChange change : changes) {
            if (change.rateKey() != null && change.state() == JobStatus.QUEUED) {
                keys.add(change.rateKey());
            }
        }
        if (!keys.isEmpty()) {
            passSoon(keys);
        }
    }

    /** Gives these keys a pass now (a limit set or deleted, jobs queued). */
    public void passSoon(List<String> keys) {
        long now = System.nanoTime();
        synchronized (this) {
            keys.forEach(key -> next.put(key, now));
            notifyAll();
        }
    }

    /** Admits what every key with waiting jobs allows, and paces those still waiting; returns jobs admitted. */
    public int admitAllWaiting() {
        return BatchLoop.forEachWaitingPage(limits::waitingKeys, KEYS_PER_PASS, page -> settle(limits.admit(page)));
    }

    /** Schedules each key's next pass (or forgets it, nothing due waiting); returns the jobs admitted. */
    private int settle(List<RateLimits.Pass> passes) {
        int admitted = 0;
        long now = System.nanoTime();
        synchronized (this) {
            for (RateLimits.Pass pass : passes) {
                admitted += pass.admitted();
                if (pass.waiting() > 0) {
                    next.merge(pass.key(), now + pause(pass), Math::min);
                } else if (pass.held() > 0 && pass.limited()) {
                    // one more pass once workers took them, so the bucket's room is not left short by them
                    next.merge(pass.key(), now + HELD_PAUSE_NANOS, Math::min);
                } else {
                    next.remove(pass.key());
                }
            }
            notifyAll();
        }
        if (admitted > 0) {
            wakeDispatchers.run();
        }
        return admitted;
    }

    /** How long until the key's bucket holds enough for its next pass. */
    static long pause(RateLimits.Pass pass) {
        if (!pass.limited()) {
            return MIN_PAUSE_NANOS;
        }
        double target = Math.max(1, Math.min(pass.burst(), pass.perSecond() * PASS_SECONDS));
        long nanos = (long) Math.ceil(Math.max(0, target - pass.tokens()) / pass.perSecond() * 1e9);
        if (pass.held() > 0) {
            nanos = Math.min(nanos, pass.held() + target > pass.burst() ? FULL_PAUSE_NANOS : HELD_PAUSE_NANOS);
        }
        return Math.max(MIN_PAUSE_NANOS, Math.min(MAX_PAUSE_NANOS, nanos));
    }

    private void run() {
        while (true) {
            List<String> batch = new ArrayList<>();
            synchronized (this) {
                while (!closed) {
                    long now = System.nanoTime();
                    long soonest = Long.MAX_VALUE;
                    for (Map.Entry<String, Long> entry : next.entrySet()) {
                        if (entry.getValue() - now <= 0) {
                            if (batch.size() < KEYS_PER_PASS) {
                                batch.add(entry.getKey());
                            }
                        } else {
                            soonest = Math.min(soonest, entry.getValue() - now);
                        }
                    }
                    if (!batch.isEmpty()) {
                        break;
                    }
                    try {
                        if (soonest == Long.MAX_VALUE) {
                            wait();
                        } else {
                            wait(Math.max(1, soonest / 1_000_000), (int) (soonest % 1_000_000));
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) {
                    return;
                }
                batch.forEach(next::remove);
            }
            try {
                long started = System.nanoTime();
                List<RateLimits.Pass> passes = limits.admit(batch);
                log.debug("rate pass of {} key(s) in {} us: {}", batch.size(), (System.nanoTime() - started) / 1000, passes);
                settle(passes);
            } catch (RuntimeException e) {
                log.warn("could not admit jobs of {} rate key(s) ({}); trying again", batch.size(), e.getMessage());
                long retryAt = System.nanoTime() + RETRY_PAUSE_NANOS;
                synchronized (this) {
                    batch.forEach(key -> next.merge(key, retryAt, Math::min));
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
