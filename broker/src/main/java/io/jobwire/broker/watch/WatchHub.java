package io.jobwire.broker.watch;

import io.jobwire.api.v1.Job;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.convert.Statuses;
import io.jobwire.broker.events.ChangeListener;
import io.jobwire.broker.store.GroupCommit;
import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobQueries;
import io.jobwire.broker.store.JobRecord;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes job changes to watchers. A change only marks the job dirty for the watchers that may care;
 * one loader thread then reads the dirty jobs in batches and offers each watcher the current row. So
 * a burst of changes to one job costs one read, the watchers see rows exactly as stored, and changes
 * made by other brokers (which arrive as bare ids and versions) are handled the same way.
 */
public final class WatchHub implements ChangeListener, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WatchHub.class);
    private static final int LOAD_BATCH = 500;
    private static final int SNAPSHOT_BATCH = 2_000;
    private static final long RETRY_DELAY_MS = 500;
    /** The longest a watch waits for other brokers to be told (their notifications are hints anyway). */
    private static final long ANNOUNCE_WAIT_MS = 2_000;

    private final JobQueries queries;
    private final Map<Long, Set<Watcher>> byId = new ConcurrentHashMap<>();
    private final Set<Watcher> filtered = ConcurrentHashMap.newKeySet();
    /**
     * The filter watches again, by the types they follow (those that follow every type under ""): a
     * committed change is offered to the watches of its type and of every type, not to every watch.
     */
    private final Map<String, Set<Watcher>> filteredByType = new ConcurrentHashMap<>();
    private final Set<Watcher> dirtyWatchers = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean loadScheduled = new AtomicBoolean();
    private final Map<String, AtomicInteger> perPrincipal = new ConcurrentHashMap<>();
    private final ScheduledExecutorService loader = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "jobwire-watch");
        thread.setDaemon(true);
        return thread;
    });

    /**
     * The first rows of new id watches, read together: a burst of thousands of Watch calls costs a few
     * reads on the loader thread, not a pooled connection each (10,000 at once outwaited the pool's
     * connection timeout on a busy machine and failed UNAVAILABLE).
     */
    private final GroupCommit<Long, Optional<JobRecord>> snapshotReads;

    /** Makes other brokers send this one every change (see {@link #announceWith}); at once by default. */
    private volatile Supplier<CompletableFuture<Void>> announcer = () -> CompletableFuture.completedFuture(null);

    public WatchHub(JobQueries queries) {
        this.queries = queries;
        this.snapshotReads = new GroupCommit<>("watch snapshots", this::readRows, Statuses::isDatabaseUnavailable,
                SNAPSHOT_BATCH, 1, loader,
                // Bounded by the watches a principal may hold (--max-watches): each reads one snapshot.
                GroupCommit.Bound.none());
    }

    /**
     * How a watch makes sure the other brokers send this one every change, not only what dispatchers
     * need: the change listener's watch lock ({@code PgChangeListener#announceWatching}).
     */
    public void announceWith(Supplier<CompletableFuture<Void>> announce) {
        this.announcer = announce;
    }

    /** Whether any watch is open here. */
    public boolean hasWatchers() {
        return !filtered.isEmpty() || !byId.isEmpty();
    }

    /**
     * Runs {@code start} (a new watch's snapshot) once other brokers will send every change from then on:
     * at once when they already do, else on the loader thread when they have been told, or after {@link
     * #ANNOUNCE_WAIT_MS} if that cannot be known (the change listener is reconnecting; it resyncs then).
     */
    public void whenOthersWillTell(Runnable start) {
        CompletableFuture<Void> told = announcer.get();
        if (told.isDone()) {
            start.run();
            return;
        }
        told.completeOnTimeout(null, ANNOUNCE_WAIT_MS, TimeUnit.MILLISECONDS).thenRunAsync(start, loader);
    }

    /** The current rows of {@code ids}, in order (empty where no job has the id), read in shared batches. */
    public CompletableFuture<List<Optional<JobRecord>>> currentRows(List<Long> ids) {
        return snapshotReads.submit(ids);
    }

    private List<Optional<JobRecord>> readRows(List<Long> ids) {
        Map<Long, JobRecord> rows = read(new HashSet<>(ids));
        return ids.stream().map(id -> Optional.ofNullable(rows.get(id))).toList();
    }

    /** The current rows of the jobs with these ids that exist, read {@link #LOAD_BATCH} at a time. */
    private Map<Long, JobRecord> read(Set<Long> ids) {
        Map<Long, JobRecord> rows = new HashMap<>();
        List<Long> all = new ArrayList<>(ids);
        for (int from = 0; from < all.size(); from += LOAD_BATCH) {
            queries.getMany(all.subList(from, Math.min(all.size(), from + LOAD_BATCH)))
                    .forEach(job -> rows.put(job.id(), job));
        }
        return rows;
    }

    /**
     * Starts routing changes to the watcher, unless its principal already holds {@code limit} watches:
     * then nothing is registered and false is returned.
     */
    public boolean register(Watcher watcher, int limit) {
        int held = perPrincipal.computeIfAbsent(watcher.principal(), key -> new AtomicInteger()).incrementAndGet();
        if (held > limit) {
            perPrincipal.get(watcher.principal()).decrementAndGet();
            return false;
        }
        watcher.markRegistered(true);
        register(watcher);
        return true;
    }

    private void register(Watcher watcher) {
        watcher.onClose(() -> unregister(watcher));
        if (watcher.ids() == null) {
            filtered.add(watcher);
            for (String type : typeKeys(watcher)) {
                filteredByType.computeIfAbsent(type, key -> ConcurrentHashMap.newKeySet()).add(watcher);
            }
        } else {
            for (long id : watcher.ids()) {
                byId.computeIfAbsent(id, key -> ConcurrentHashMap.newKeySet()).add(watcher);
            }
        }
    }

    public void unregister(Watcher watcher) {
        watcher.cancelled();
        if (!watcher.markRegistered(false)) {
            return;
        }
        perPrincipal.computeIfPresent(watcher.principal(), (key, count) -> count.decrementAndGet() <= 0 ? null : count);
        dirtyWatchers.remove(watcher);
        if (watcher.ids() == null) {
            filtered.remove(watcher);
            for (String type : typeKeys(watcher)) {
                filteredByType.computeIfPresent(type, (key, set) -> {
                    set.remove(watcher);
                    return set.isEmpty() ? null : set;
                });
            }
        } else {
            for (long id : watcher.ids()) {
                byId.computeIfPresent(id, (key, set) -> {
                    set.remove(watcher);
                    return set.isEmpty() ? null : set;
                });
            }
        }
    }

    /** How many watch streams are open. */
    public int size() {
        Set<Watcher> all = new HashSet<>(filtered);
        byId.values().forEach(all::addAll);
        return all.size();
    }

    @Override
    public void onChanges(List<JobChange> changes) {
        if (byId.isEmpty() && filtered.isEmpty()) {
            return;
        }
        boolean any = false;
        for (JobChange change : changes) {
            Set<Watcher> watchers = byId.get(change.id());
            if (watchers != null) {
                for (Watcher watcher : watchers) {
                    any |= mark(watcher, change);
                }
            }
            if (change.isRemote()) {
                // Another broker's change says only id, version and state: any filter watch may care.
                for (Watcher watcher : filtered) {
                    if (watcher.mayCare(change)) {
                        any |= mark(watcher, change);
                    }
                }
            } else {
                any |= markFiltered(filteredByType.get(ANY_TYPE), change);
                any |= markFiltered(filteredByType.get(change.type()), change);
            }
        }
        if (any) {
            scheduleLoad(0);
        }
    }

    private boolean markFiltered(Set<Watcher> watchers, JobChange change) {
        boolean any = false;
        if (watchers != null) {
            for (Watcher watcher : watchers) {
                if (watcher.mayCare(change)) {
                    any |= mark(watcher, change);
                }
            }
        }
        return any;
    }

    private static final String ANY_TYPE = "";

    /** The keys of {@link #filteredByType} a filter watch is found under. */
    private static Set<String> typeKeys(Watcher watcher) {
        Set<String> types = watcher.filterTypes();
        return types.isEmpty() ? Set.of(ANY_TYPE) : types;
    }

    private boolean mark(Watcher watcher, JobChange change) {
        if (watcher.markDirty(change.id(), change.version())) {
            dirtyWatchers.add(watcher);
            return true;
        }
        return false;
    }

    /** Re-reads every unfinished job watched by id: covers notifications lost while disconnected. */
    @Override
    public void onResync() {
        boolean any = false;
        Set<Watcher> seen = new HashSet<>();
        for (Set<Watcher> watchers : byId.values()) {
            for (Watcher watcher : watchers) {
                if (seen.add(watcher) && watcher.markUnfinishedDirty()) {
                    dirtyWatchers.add(watcher);
                    any = true;
                }
            }
        }
        if (any) {
            scheduleLoad(0);
        }
    }

    private void scheduleLoad(long delayMs) {
        if (loadScheduled.compareAndSet(false, true)) {
            loader.schedule(this::load, delayMs, TimeUnit.MILLISECONDS);
        }
    }

    private void load() {
        loadScheduled.set(false);
        Map<Watcher, Set<Long>> work = new HashMap<>();
        Set<Long> ids = new HashSet<>();
        for (Watcher watcher : List.copyOf(dirtyWatchers)) {
            dirtyWatchers.remove(watcher);
            Set<Long> taken = watcher.takeDirty();
            if (!taken.isEmpty()) {
                work.put(watcher, taken);
                ids.addAll(taken);
            }
        }
        if (ids.isEmpty()) {
            return;
        }
        Map<Long, JobRecord> rows;
        try {
            rows = read(ids);
        } catch (RuntimeException e) {
            if (!Statuses.isDatabaseUnavailable(e)) {
                log.error("watch could not read changed jobs; retrying", e);
            }
            work.forEach((watcher, taken) -> taken.forEach(id -> {
                if (watcher.markDirty(id, Long.MAX_VALUE)) {
                    dirtyWatchers.add(watcher);
                }
            }));
            scheduleLoad(RETRY_DELAY_MS);
            return;
        }
        Map<Long, Job> protos = new HashMap<>();
        work.forEach((watcher, taken) -> {
            for (long id : taken) {
                JobRecord job = rows.get(id);
                if (job != null) {
                    watcher.offer(job, protos.computeIfAbsent(id, key -> ProtoJobs.toProto(job)));
                }
            }
        });
        if (!dirtyWatchers.isEmpty()) {
            scheduleLoad(0);
        }
    }

    /** Ends every watch with {@code status} (the broker is going away). */
    public void endAll(io.grpc.Status status) {
        Set<Watcher> all = new HashSet<>(filtered);
        byId.values().forEach(all::addAll);
        all.forEach(watcher -> watcher.fail(status));
    }

    @Override
    public void close() {
        snapshotReads.close(1, TimeUnit.SECONDS);
        loader.shutdownNow();
    }
}
