package io.jobwire.broker.dispatch;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import io.jobwire.broker.convert.Statuses;
import io.jobwire.broker.events.ChangeListener;
import io.jobwire.broker.store.ClaimRequest;
import io.jobwire.broker.store.GroupCommit;
import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobRecord;
import io.jobwire.broker.store.JobStatus;
import io.jobwire.broker.store.JobStore;
import io.jobwire.broker.store.NewJob;
import io.jobwire.broker.store.QuotaStore;
import io.jobwire.broker.store.SubmitOutcome;
import io.jobwire.broker.store.WorkerWrites;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The submit and claim paths. Submits from every caller are gathered into one statement and one commit
 * ({@link #submit}), which also claims for a waiting stream when it can. It pushes jobs to worker
 * streams: it claims for each stream with room (credits and concurrency left) and
 * sends what it got. It wakes when a stream grants credit, when a job becomes due here or on another
 * broker (via the change bus), at the run_at of delayed jobs it has heard of, and on a short poll,
 * which stays the source of truth because notifications can be lost.
 */
public final class Dispatcher implements ChangeListener, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);
    private static final int MAX_SCHEDULED_WAKEUPS = 10_000;
    /**
     * The largest submit batch that claims in its own commit. Claiming is what makes a lone job start
     * a commit sooner; under load (batches of dozens) the dispatcher's claims overlap the next insert
     * instead of lengthening it, and single-Submit throughput was 7-10% higher that way in the bench.
     */
    private static final int MAX_SUBMIT_TO_CLAIM_WITH = 8;
    /** Rows per submit statement: big enough to amortise a commit, small enough to keep a commit short. */
    private static final int MAX_SUBMIT_ROWS = 2_000;
    /** The most submits under quotas decided in one transaction. */
    private static final int MAX_QUOTA_SUBMITS = 500;
    /**
     * Submit batches written at once. One: requests that arrive during a commit all go in the next. Two
     * overlapped commits but halved the batches, and cost more per job than they saved in the bench
     * (batched 20k vs 22k jobs/s, single 9k vs 10k).
     */
    private static final int SUBMIT_WRITERS = 1;
    /** What a submitted job weighs beyond its payload, in the bound on submits waiting for the database. */
    private static final int BYTES_PER_JOB = 512;

    private final JobStore store;
    private final QuotaRules quotas;
    private final ExecutorService quotaSubmitThreads;
    private final GroupCommit<List<NewJob>, JobStore.QuotaSubmit> quotaSubmits;
    private final SessionRegistry sessions;
    private final Duration pollInterval;
    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition signal = lock.newCondition();
    private final PriorityQueue<Instant> wakeups = new PriorityQueue<>();
    private final Thread thread;
    private boolean signalled = true;
    /** The dispatch thread is in {@link #awaitWork} (guarded by {@link #lock}). */
    private boolean awaiting;
    private volatile boolean running = true;
    private int rotation;
    /** Events that may have made jobs due (see {@link #wakeForNews}); streams remember the count they drained at. */
    private final AtomicLong news = new AtomicLong();
    private long lastPoll = System.nanoTime();
    private final LongAdder claims = new LongAdder();
    private final AtomicInteger submitRotation = new AtomicInteger();
    private final ExecutorService submitThreads;
    private final GroupCommit<NewJob, SubmitOutcome> submits;

    /**
     * @param maxWaitingSubmitBytes submitted bytes (payloads, and a little per job) that may wait for the
     *                              database; more are refused with UNAVAILABLE, to be retried, rather than
     *                              every request of a burst held in the heap
     */
    public Dispatcher(JobStore store, SessionRegistry sessions, QuotaRules quotas, Duration pollInterval, Clock clock,
                      long maxWaitingSubmitBytes) {
        this.store = store;
        this.quotas = quotas;
        this.quotaSubmitThreads = Executors.newCachedThreadPool(
                new ThreadFactoryBuilder().setNameFormat("jobwire-quota-submits-%d").setDaemon(true).build());
        // Items are whole submits (each taken or refused whole); one transaction at a time, since the
        // submits of an owner take turns on its quota's row anyway.
        this.quotaSubmits = new GroupCommit<>("submits under quotas",
                gathered -> store.insertUnderQuotas(gathered, quotas.covering(gathered.stream().flatMap(List::stream)
                        .toList())),
                Statuses::isDatabaseUnavailable, MAX_QUOTA_SUBMITS, 1, quotaSubmitThreads,
                new GroupCommit.Bound<>(jobs -> jobs.stream().mapToLong(job -> BYTES_PER_JOB + job.payloadJson().length())
                        .sum(), maxWaitingSubmitBytes));
        this.sessions = sessions;
        this.pollInterval = pollInterval;
        this.clock = clock;
        this.thread = new Thread(this::run, "jobwire-dispatch");
        this.thread.setDaemon(true);
        this.submitThreads = Executors.newCachedThreadPool(
                new ThreadFactoryBuilder().setNameFormat("jobwire-commit-submits-%d").setDaemon(true).build());
        this.submits = new GroupCommit<>("submits", this::writeSubmits, Statuses::isDatabaseUnavailable,
                MAX_SUBMIT_ROWS, SUBMIT_WRITERS, submitThreads,
                new GroupCommit.Bound<>(job -> BYTES_PER_JOB + job.payloadJson().length(), maxWaitingSubmitBytes));
    }

    public void start() {
        thread.start();
    }

    /**
     * Jobs may have become due: a stream whose last claim came back short is claimed for again. Counted,
     * so a claim knows whether anything happened since the one before it.
     */
    private void wakeForNews() {
        news.incrementAndGet();
        wake();
    }

    /** A stream has more room (credit, a finished job): claim for the streams that may find work. */
    public void wake() {
        lock.lock();
        try {
            signalled = true;
            signal.signal();
        } finally {
            lock.unlock();
        }
    }

    /** A job becomes due at {@code when}: wake then. */
    void wakeAt(Instant when) {
        lock.lock();
        try {
            if (wakeups.size() < MAX_SCHEDULED_WAKEUPS) {
                wakeups.add(when);
                signal.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Submits the jobs with those of every other caller in one statement and one commit (see {@link
     * #writeSubmits}); the future completes once they are committed, or with the error.
     */
    public CompletableFuture<List<SubmitOutcome>> submit(List<NewJob> jobs) {
        List<QuotaStore.Quota> covering = quotas.covering(jobs);
        if (covering.isEmpty()) {
            return submits.submit(jobs);
        }
        // Under a quota: gathered with the other submits under quotas into one transaction that locks
        // the quotas, decides each submit whole, inserts and counts (JobStore.insertUnderQuotas).
        return quotaSubmits.submit(List.of(jobs)).thenApply(answers -> {
            JobStore.QuotaSubmit answer = answers.get(0);
            if (answer.refused() != null) {
                throw answer.refused();
            }
            return answer.outcomes();
        });
    }

    /** The submits' group commit, so tests can count its batches. */
    public GroupCommit<NewJob, SubmitOutcome> submits() {
        return submits;
    }

    /**
     * The submits' write: inserts the batch and, when a stream here has room for some of its jobs that
     * are due now, claims for that stream in the same round trip and commit ({@link
     * JobStore#insertAndClaim}) and sends what it got. A job submitted while a worker waits starts one
     * commit sooner than through the dispatcher's next round. One stream per batch: the dispatcher's
     * round, woken by the jobs left queued, serves the others; and only small batches (see {@link
     * #MAX_SUBMIT_TO_CLAIM_WITH}).
     */
    List<SubmitOutcome> writeSubmits(List<NewJob> batch) {
        List<NewJob> due = batch.size() <= MAX_SUBMIT_TO_CLAIM_WITH ? dueNow(batch) : List.of();
        WorkerSession session = null;
        ClaimRequest request = null;
        if (!due.isEmpty()) {
            List<WorkerSession> all = sessions.sessions();
            int start = all.isEmpty() ? 0 : Math.floorMod(submitRotation.getAndIncrement(), all.size());
            for (int i = 0; i < all.size() && request == null; i++) {
                session = all.get((start + i) % all.size());
                request = session.beginClaimFor(due);
            }
        }
        if (request == null) {
            return store.insert(batch);
        }
        JobStore.Submitted submitted;
        try {
            submitted = store.insertAndClaim(batch, request);
        } catch (RuntimeException e) {
            endClaim(session, request);
            if (Statuses.isDatabaseUnavailable(e)) {
                throw e;
            }
            // Nothing was written (the insert and the claim are one transaction); whatever failed, the
            // claim must not cost the submit: the insert alone says whether the jobs themselves are bad.
            log.warn("claiming with a submit failed; inserting alone", e);
            return store.insert(batch);
        }
        try {
            if (!session.deliver(submitted.claimed())) {
                giveBack(session.principal(), submitted.claimed());
            }
        } finally {
            endClaim(session, request);
        }
        return submitted.outcomes();
    }

    private List<NewJob> dueNow(List<NewJob> batch) {
        Instant now = clock.instant();
        return batch.stream().filter(job -> job.isDueAt(now)).toList();
    }

    private void endClaim(WorkerSession session, ClaimRequest request) {
        if (session.endClaim(request)) {
            wake();
        }
    }

    /**
     * Wakes for jobs that became due now, except those claimed in the same commit (a submit that
     * claimed its own jobs publishes them queued and running at once).
     */
    @Override
    public void onChanges(List<JobChange> changes) {
        Instant now = clock.instant();
        Set<Long> dueNow = null;
        for (JobChange change : changes) {
            if (change.state() == JobStatus.QUEUED) {
                if (change.runAt() == null || !change.runAt().isAfter(now)) {
                    if (dueNow == null) {
                        dueNow = new HashSet<>();
                    }
                    dueNow.add(change.id());
                } else {
                    wakeAt(change.runAt());
                }
            }
        }
        if (dueNow == null) {
            return;
        }
        for (JobChange change : changes) {
            if (change.state() == JobStatus.RUNNING) {
                dueNow.remove(change.id());
            }
        }
        if (!dueNow.isEmpty()) {
            wakeForNews();
        }
    }

    @Override
    public void onResync() {
        wakeForNews();
    }

    @Override
    public void onDue(boolean now, List<Instant> later) {
        later.forEach(this::wakeAt);
        if (now) {
            wakeForNews();
        }
    }

    private void run() {
        while (running) {
            try {
                awaitWork();
                if (!running) {
                    return;
                }
                while (running && dispatchRound()) {
                    // a stream got all it asked for: there may be more work, go round again
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                logFailure(e);
                news.incrementAndGet();
                sleepQuietly(pollInterval);
            }
        }
    }

    private void awaitWork() throws InterruptedException {
        lock.lock();
        try {
            awaiting = true;
            long waitNanos = pollInterval.toNanos();
            while (!signalled && running && waitNanos > 0) {
                Instant next = wakeups.peek();
                if (next != null) {
                    long untilNext = Duration.between(clock.instant(), next).toNanos();
                    if (untilNext <= 0) {
                        break;
                    }
                    waitNanos = Math.min(waitNanos, untilNext);
                }
                waitNanos = signal.awaitNanos(waitNanos);
            }
            signalled = false;
            Instant now = clock.instant();
            while (!wakeups.isEmpty() && !wakeups.peek().isAfter(now)) {
                wakeups.poll();
                news.incrementAndGet();
            }
            // The poll: once per interval every stream is claimed for, whatever it last found, so a
            // change nobody heard of (a lost notification, a row edited by hand) is found all the same.
            long tick = System.nanoTime();
            if (tick - lastPoll >= pollInterval.toNanos()) {
                lastPoll = tick;
                news.incrementAndGet();
            }
        } finally {
            awaiting = false;
            lock.unlock();
        }
    }

    /** The dispatch thread waits for work and has not been woken: no round is under way or about to start. */
    public boolean idle() {
        lock.lock();
        try {
            return awaiting && !signalled;
        } finally {
            lock.unlock();
        }
    }

    /** One claim per stream with room. True when some stream got everything it asked for. */
    boolean dispatchRound() {
        List<WorkerSession> all = sessions.sessions();
        if (all.isEmpty()) {
            return false;
        }
        boolean saturated = false;
        int start = Math.floorMod(rotation++, all.size());
        for (int i = 0; i < all.size() && running; i++) {
            WorkerSession session = all.get((start + i) % all.size());
            long seen = news.get();
            ClaimRequest request = session.beginClaim(seen);
            if (request == null) {
                continue;
            }
            List<JobRecord> claimed = null;
            try {
                claims.increment();
                claimed = store.claim(request);
                if (!session.deliver(claimed)) {
                    giveBack(session.principal(), claimed);
                } else if (claimed.size() == request.limit()) {
                    saturated = true;
                }
            } finally {
                session.endClaim(request, claimed, seen);
            }
        }
        return saturated;
    }

    /** Claim statements the dispatcher's rounds ran (not counting those made with submits). */
    public long claims() {
        return claims.sum();
    }

    private void giveBack(String principal, List<JobRecord> undelivered) {
        store.release(principal, undelivered.stream()
                .map(job -> new WorkerWrites.Release(job.lease(), "the worker stream closed before the job was sent"))
                .toList());
    }

    private long lastFailureLog;

    private void logFailure(RuntimeException e) {
        long now = System.nanoTime();
        if (now - lastFailureLog > TimeUnit.SECONDS.toNanos(10)) {
            lastFailureLog = now;
            if (Statuses.isDatabaseUnavailable(e)) {
                log.warn("dispatcher cannot reach the database ({}); retrying", e.getMessage());
            } else {
                log.error("dispatcher round failed; retrying", e);
            }
        }
    }

    private static void sleepQuietly(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Lets the submits queued so far commit (up to ten seconds), then stops claiming. */
    @Override
    public void close() {
        submits.close(10, TimeUnit.SECONDS);
        submitThreads.shutdown();
        quotaSubmits.close(10, TimeUnit.SECONDS);
        quotaSubmitThreads.shutdown();
        running = false;
        wake();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Tells {@code observer} of every batch of submits applied. */
    public void observe(GroupCommit.Observer observer) {
        submits.observe(observer);
        quotaSubmits.observe(observer);
    }
}
