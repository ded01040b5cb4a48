package io.jobwire.broker.store;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import io.jobwire.broker.store.WorkerWrites.Completion;
import io.jobwire.broker.store.WorkerWrites.Failure;
import io.jobwire.broker.store.WorkerWrites.ProgressReport;
import io.jobwire.broker.store.WorkerWrites.Release;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The worker streams' writes, each kind gathered across all streams into one statement and one commit
 * ({@link GroupCommit}): heartbeats, progress, completions, failures and releases. (Submits are gathered
 * by the dispatcher, which may claim with them.)
 */
public final class GroupWrites implements AutoCloseable {
    /** Rows per statement: big enough to amortise a commit, small enough to keep a commit short. */
    private static final int MAX_ROWS = 2_000;

    private final ExecutorService executor;
    private final GroupCommit<Fenced<LeaseRef>, WriteResult> heartbeats;
    private final GroupCommit<Fenced<ProgressReport>, WriteResult> progress;
    private final GroupCommit<Fenced<Completion>, WriteResult> completions;
    private final GroupCommit<Fenced<Failure>, WriteResult> failures;
    private final GroupCommit<Fenced<Release>, WriteResult> releases;
    private final GroupCommit<Fenced<WorkerWrites.Await>, WriteResult> awaits;

    /**
     * @param sharedFailure true for an error that every request of a batch would have met on its own
     *                      (the database is unreachable); other errors make a batch retry request by request
     * @param writers       batches of one kind applied at once (each holds a connection meanwhile)
     */
    public GroupWrites(JobStore store, Predicate<Throwable> sharedFailure, int writers) {
        this.executor = Executors.newCachedThreadPool(
                new ThreadFactoryBuilder().setNameFormat("jobwire-commit-%d").setDaemon(true).build());
        // No bound here: a worker stream stops reading while 32 of its writes wait (WorkerStream), so what
        // waits is bounded by the streams, and a worker's finish is never refused for being in a crowd.
        this.heartbeats = new GroupCommit<>("heartbeats", store::heartbeatAll, sharedFailure, MAX_ROWS, 1, executor,
                GroupCommit.Bound.none());
        this.progress = new GroupCommit<>("progress", store::progressAll, sharedFailure, MAX_ROWS, 1, executor,
                GroupCommit.Bound.none());
        this.completions = new GroupCommit<>("completions", store::completeAll, sharedFailure, MAX_ROWS, writers, executor,
                GroupCommit.Bound.none());
        this.failures = new GroupCommit<>("failures", store::failAll, sharedFailure, MAX_ROWS, writers, executor,
                GroupCommit.Bound.none());
        this.releases = new GroupCommit<>("releases", store::releaseAll, sharedFailure, MAX_ROWS, 1, executor,
                GroupCommit.Bound.none());
        this.awaits = new GroupCommit<>("awaits", store::awaitAll, sharedFailure, MAX_ROWS, 1, executor,
                GroupCommit.Bound.none());
    }

    public GroupCommit<Fenced<LeaseRef>, WriteResult> heartbeats() {
        return heartbeats;
    }

    public GroupCommit<Fenced<ProgressReport>, WriteResult> progress() {
        return progress;
    }

    public GroupCommit<Fenced<Completion>, WriteResult> completions() {
        return completions;
    }

    public GroupCommit<Fenced<Failure>, WriteResult> failures() {
        return failures;
    }

    public GroupCommit<Fenced<Release>, WriteResult> releases() {
        return releases;
    }

    public GroupCommit<Fenced<WorkerWrites.Await>, WriteResult> awaits() {
        return awaits;
    }

    private List<GroupCommit<?, ?>> all() {
        return List.of(heartbeats, progress, completions, failures, releases, awaits);
    }

    /** Lets queued writes commit (up to the timeout each), then stops the commit threads. */
    public void close(long timeout, TimeUnit unit) {
        all().forEach(group -> group.close(timeout, unit));
        executor.shutdown();
    }

    @Override
    public void close() {
        close(10, TimeUnit.SECONDS);
    }

    /** Tells {@code observer} of every batch of worker writes applied. */
    public void observe(GroupCommit.Observer observer) {
        all().forEach(group -> group.observe(observer));
    }
}
