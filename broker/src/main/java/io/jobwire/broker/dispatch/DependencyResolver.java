package io.jobwire.broker.dispatch;

import io.jobwire.broker.events.ChangeListener;
import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobStatus;
import io.jobwire.broker.store.JobStore;
import java.util.ArrayList;
import java.util.List;
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

    /** A WAITING job to resolve, or a finished job whose dependents to resolve. */
    private record Pending(long id, boolean finished) {
    }

    private final JobStore store;
    private final BrokerCancels cancels;
    private final BatchLoop<Pending> loop;
    private volatile boolean inUse;

    public DependencyResolver(JobStore store, BrokerCancels cancels) {
        this.store = store;
        this.cancels = cancels;
        this.loop = new BatchLoop<>("jobwire-depend", "resolve the dependencies of waiting jobs", JOBS_PER_PASS,
                this::resolve);
    }

    public void start() {
        loop.start();
    }

    @Override
    public void onChanges(List<JobChange> changes) {
        List<Pending> pending = new ArrayList<>();
        for (JobChange change : changes) {
            if (change.isRemote()) {
                continue;
            }
            if (change.state() == JobStatus.WAITING) {
                inUse = true;
                pending.add(new Pending(change.id(), false));
            } else if (change.state().isFinished() && inUse) {
                pending.add(new Pending(change.id(), true));
            }
        }
        if (!pending.isEmpty()) {
            loop.addAll(pending);
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

    private void resolve(List<Pending> batch) {
        List<Long> toResolve = new ArrayList<>();
        List<Long> done = new ArrayList<>();
        batch.forEach(p -> (p.finished() ? done : toResolve).add(p.id()));
        if (!done.isEmpty()) {
            toResolve.addAll(store.dependentsOf(done));
        }
        settle(store.resolveWaiting(toResolve));
    }

    private void settle(List<JobStore.DependencyFailed> failed) {
        for (JobStore.DependencyFailed f : failed) {
            String reason = "dependency " + f.dependency() + (f.dependencyState().equals("GONE") ? " no longer exists"
                    : " ended " + f.dependencyState());
            try {
                cancels.cancel(f.jobId(), reason);
            } catch (RuntimeException e) {
                log.warn("could not cancel job {} whose dependency failed ({})", f.jobId(), e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        loop.close();
    }
}
