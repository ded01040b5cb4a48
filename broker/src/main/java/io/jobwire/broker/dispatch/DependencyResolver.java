package io.jobwire.broker.dispatch;

import io.jobwire.broker.events.ChangeListener;
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
 * Moves WAITING jobs on when the jobs they depend on finish (see V20), on the {@code jobwire-depend}
 * thread: a job submitted WAITING here is resolved at once (its dependencies may have finished already),
 * and a job that finishes here has its dependents resolved (looked up only while any job waits for
 * another, which every broker checks each second). Resolving a job after its own commit, and the jobs a
 * finish frees after that finish's commit, each with a fresh snapshot, means one of the two sees both:
 * no dependent is left waiting for a job that finished. A dependent a failure cancels is cancelled through
 * the ordinary cancel, whose change resolves its own dependents in turn. {@link #resolveStranded} is the
 * maintenance pass for what a broker that died in between left.
 */
public final class DependencyResolver implements ChangeListener, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DependencyResolver.class);
    /** Jobs per resolution transaction. */
    private static final int JOBS_PER_PASS = 500;
    private static final long RETRY_PAUSE_MS = 200;

    private final JobStore store;
    /** WAITING jobs to resolve. */
    private final Set<Long> waiting = new LinkedHashSet<>();
    /** Finished jobs whose dependents to resolve. */
    private final Set<Long> finished = new LinkedHashSet<>();
    private final Thread thread;
    private volatile boolean inUse;
    private boolean closed;

    public DependencyResolver(JobStore store) {
        this.store = store;
        this.thread = new Thread(this::run, "jobwire-depend");
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
                if (change.isRemote()) {
                    continue;
                }
                if (change.state() == JobStatus.WAITING) {
                    inUse = true;
                    any |= waiting.add(change.id());
                } else if (change.state().isFinished() && inUse) {
                    any |= finished.add(change.id());
                }
            }
            if (any) {
                notifyAll();
            }
        }
    }

    /** Reads whether any job waits for another (the maintenance pass of every broker, each second). */
    public void refreshInUse() {
        inUse = store.dependenciesInUse();
    }

    /** Resolves waiting jobs whose dependencies finished without a resolution (a broker died); returns how many. */
    public int resolveStranded() {
        List<Long> stranded = store.strandedDependents(JOBS_PER_PASS);
        settle(store.resolveWaiting(stranded));
        return stranded.size();
    }

    private void settle(List<JobStore.DependencyFailed> failed) {
        for (JobStore.DependencyFailed f : failed) {
            String reason = "dependency " + f.dependency() + (f.dependencyState().equals("GONE") ? " no longer exists"
                    : " ended " + f.dependencyState());
            try {
                store.cancel(f.jobId(), null, reason);
            } catch (RuntimeException e) {
                log.warn("could not cancel job {} whose dependency failed ({})", f.jobId(), e.getMessage());
            }
        }
    }

    private void run() {
        while (true) {
            List<Long> toResolve = new ArrayList<>();
            List<Long> done = new ArrayList<>();
            synchronized (this) {
                while (!closed && waiting.isEmpty() && finished.isEmpty()) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) {
                    return;
                }
                take(waiting, toResolve);
                take(finished, done);
            }
            try {
                if (!done.isEmpty()) {
                    toResolve.addAll(store.dependentsOf(done));
                }
                settle(store.resolveWaiting(toResolve));
            } catch (RuntimeException e) {
                log.warn("could not resolve the dependencies of {} job(s) ({}); trying again", toResolve.size() + done.size(),
                        e.getMessage());
                synchronized (this) {
                    waiting.addAll(toResolve);
                    finished.addAll(done);
                }
                try {
                    Thread.sleep(RETRY_PAUSE_MS);
                } catch (InterruptedException interrupted) {
                    return;
                }
            }
        }
    }

    private static void take(Set<Long> from, List<Long> into) {
        var it = from.iterator();
        while (it.hasNext() && into.size() < JOBS_PER_PASS) {
            into.add(it.next());
            it.remove();
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
