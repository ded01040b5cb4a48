package io.jobwire.broker.watch;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.jobwire.api.v1.Job;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobRecord;
import io.jobwire.broker.store.JobStatus;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One Watch stream. Events wait in a map keyed by job, so a watcher that reads slowly gets the latest
 * state of each job (older ones merged away) and the backlog is bounded by the number of jobs, not of
 * changes. Versions order the events and drop duplicates. A watch by ids ends after every watched job
 * was sent in a finished state; a filter watch whose backlog passes {@code maxPending} jobs ends with
 * RESOURCE_EXHAUSTED rather than grow.
 */
public final class Watcher {
    private static final int REMEMBERED_VERSIONS = 100_000;

    /** Which jobs a filter watch follows. Empty sets and a null owner match everything. */
    public record Filter(Set<String> types, Set<String> queues, Set<JobStatus> states, String owner) {
        boolean matches(JobRecord job) {
            return (types.isEmpty() || types.contains(job.type()))
                    && (queues.isEmpty() || queues.contains(job.queue()))
                    && (states.isEmpty() || states.contains(job.state()))
                    && (owner == null || owner.equals(job.owner()));
        }

        /** False only when the change surely does not match (remote changes lack type, queue, owner). */
        boolean mayMatch(JobChange change) {
            if (!states.isEmpty() && !states.contains(change.state())) {
                return false;
            }
            if (change.isRemote()) {
                return true;
            }
            return (types.isEmpty() || types.contains(change.type()))
                    && (queues.isEmpty() || queues.contains(change.queue()))
                    && (owner == null || owner.equals(change.owner()));
        }
    }

    private final ServerCallStreamObserver<WatchEvent> out;
    private String principal = "";
    private final java.util.concurrent.atomic.AtomicBoolean registered = new java.util.concurrent.atomic.AtomicBoolean();
    private final Set<Long> ids;
    private final Filter filter;
    private final int maxPending;

    private final Deque<WatchEvent> ready = new ArrayDeque<>();
    private final Map<Long, Job> pending = new LinkedHashMap<>();
    private final Map<Long, Long> sentVersions = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Long> eldest) {
            return size() > REMEMBERED_VERSIONS;
        }
    };
    private final Set<Long> unfinished = new HashSet<>();
    private final Set<Long> dirty = new HashSet<>();
    private boolean caughtUp;
    private boolean closed;
    private Runnable onClose = () -> { };

    private Watcher(ServerCallStreamObserver<WatchEvent> out, Set<Long> ids, Filter filter, int maxPending) {
        this.out = out;
        this.ids = ids == null ? null : Set.copyOf(ids);
        this.filter = filter;
        this.maxPending = maxPending;
        if (ids != null) {
            unfinished.addAll(ids);
        }
    }

    public static Watcher forIds(ServerCallStreamObserver<WatchEvent> out, Set<Long> ids) {
        return new Watcher(out, ids, null, Integer.MAX_VALUE);
    }

    public static Watcher forFilter(ServerCallStreamObserver<WatchEvent> out, Filter filter, int maxPending) {
        return new Watcher(out, null, filter, maxPending);
    }

    /** Whose watch this is, for the per-principal limit. */
    public Watcher ownedBy(String name) {
        this.principal = name;
        return this;
    }

    String principal() {
        return principal;
    }

    /** True the first time; guards the hub's bookkeeping against a double register or unregister. */
    boolean markRegistered(boolean value) {
        return registered.compareAndSet(!value, value);
    }

    /** The watched ids, or null for a filter watch. */
    /** The types a filter watch follows; empty: every type (and for a watch by ids). */
    Set<String> filterTypes() {
        return filter == null ? Set.of() : filter.types();
    }

    Set<Long> ids() {
        return ids;
    }

    synchronized void onClose(Runnable action) {
        this.onClose = action;
    }

    boolean mayCare(JobChange change) {
        return ids != null ? ids.contains(change.id()) : filter.mayMatch(change);
    }

    /** Notes that the job changed to {@code version}; true if it must be loaded for this watcher. */
    synchronized boolean markDirty(long id, long version) {
        if (closed || version <= sentVersions.getOrDefault(id, 0L)) {
            return false;
        }
        Job waiting = pending.get(id);
        if (waiting != null && waiting.getVersion() >= version) {
            return false;
        }
        return dirty.add(id);
    }

    /** Every unfinished watched job, to be read again (notifications may have been lost). */
    synchronized boolean markUnfinishedDirty() {
        if (closed || ids == null) {
            return false;
        }
        return dirty.addAll(unfinished);
    }

    synchronized Set<Long> takeDirty() {
        Set<Long> taken = new HashSet<>(dirty);
        dirty.clear();
        return taken;
    }

    /** The current state of the watched jobs: sent first, followed by the caught_up marker. */
    public synchronized void sendSnapshot(List<JobRecord> jobs, Map<Long, Job> protos) {
        for (JobRecord job : jobs) {
            Job waiting = pending.get(job.id());
            if (waiting != null && waiting.getVersion() <= job.version()) {
                pending.remove(job.id());
            }
            sentVersions.put(job.id(), job.version());
            if (job.state().isFinished()) {
                unfinished.remove(job.id());
            }
            ready.add(WatchEvent.newBuilder().setJob(protos.get(job.id())).setSnapshot(true).build());
        }
        ready.add(WatchEvent.newBuilder().setCaughtUp(true).build());
        caughtUp = true;
        drain();
    }

    /** A freshly read job state; queued (replacing an older one) unless already sent. */
    synchronized void offer(JobRecord job, Job proto) {
        if (closed || job.version() <= sentVersions.getOrDefault(job.id(), 0L)) {
            return;
        }
        if (filter != null && !filter.matches(job)) {
            return;
        }
        Job waiting = pending.get(job.id());
        if (waiting != null && waiting.getVersion() >= job.version()) {
            return;
        }
        pending.put(job.id(), proto);
        if (pending.size() > maxPending) {
            fail(Status.RESOURCE_EXHAUSTED.withDescription("the watch fell behind by more than " + maxPending
                    + " jobs; read faster or narrow the filter, then watch again"));
            return;
        }
        drain();
    }

    /** Sends what the stream can take now; called again when it becomes ready. */
    public synchronized void drain() {
        while (!closed && out.isReady()) {
            if (!ready.isEmpty()) {
                out.onNext(ready.poll());
            } else if (caughtUp && !pending.isEmpty()) {
                var first = pending.entrySet().iterator();
                Job job = first.next().getValue();
                first.remove();
                long id = Long.parseLong(job.getId());
                sentVersions.put(id, job.getVersion());
                if (isFinished(job)) {
                    unfinished.remove(id);
                }
                out.onNext(WatchEvent.newBuilder().setJob(job).build());
            } else {
                break;
            }
        }
        if (!closed && ids != null && caughtUp && ready.isEmpty() && unfinished.isEmpty()) {
            closed = true;
            out.onCompleted();
            onClose.run();
        }
    }

    synchronized void fail(Status status) {
        if (!closed) {
            closed = true;
            out.onError(status.asRuntimeException());
            onClose.run();
        }
    }

    /** The client went away. */
    synchronized void cancelled() {
        closed = true;
    }

    synchronized boolean isClosed() {
        return closed;
    }

    private static boolean isFinished(Job job) {
        JobStatus status = ProtoJobs.status(job.getState());
        return status != null && status.isFinished();
    }
}
