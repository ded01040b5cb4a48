package io.jobwire.broker.dispatch;

import io.jobwire.broker.tracing.Tracing;
import io.grpc.Status;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.broker.auth.JobTokens;
import io.jobwire.broker.metrics.BrokerMetrics;
import io.jobwire.api.v1.Assign;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.store.ClaimRequest;
import io.jobwire.broker.store.JobRecord;
import io.jobwire.broker.store.NewJob;
import io.jobwire.broker.store.WorkerSessionRecord;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentMap;

/**
 * One worker stream on this broker: what it may take (credits, concurrency, per-type limits) and the
 * leases it holds. The database stays the authority on leases; this is the bookkeeping that decides
 * how many jobs to claim for the stream and where to deliver cancellations.
 *
 * <p>Thread-safe: the stream's own callbacks, the dispatcher and the change bus all call in.
 */
public final class WorkerSession {
    private static final int MAX_CREDIT_BALANCE = 1_000_000;
    /** Keeps each Assign well under gRPC's default 4 MiB message limit (one big job may still exceed it). */
    private static final int MAX_ASSIGN_BYTES = 1024 * 1024;

    private final String sessionId;
    private final String workerId;
    private final String principal;
    private final Map<String, Integer> typeLimits;
    private final List<String> queues;
    private final int maxConcurrency;
    private final Instant connectedAt;
    private final WorkerLink link;
    private final ConcurrentMap<Long, WorkerSession> holders;
    private final BrokerMetrics metrics;

    private final Map<Long, Held> held = new HashMap<>();
    private final Map<String, Integer> heldPerType = new HashMap<>();
    private int credits;
    private boolean accepting = true;
    /** A claim was skipped because the link was busy: wake the dispatcher when it is writable again. */
    private boolean skippedBusy;
    /**
     * The claims for this stream running now: at most one of the dispatcher's and one made with a submit,
     * each holding the room it asked for until it ends (its jobs delivered or not), so the two together
     * never take more than the stream has room for. While a submit's insert waits for its commit, the
     * dispatcher still claims the room that came since.
     */
    private ClaimRequest dispatcherClaim;
    private ClaimRequest submitClaim;
    /** A claim was wanted while room was held by another; its claimer wakes the dispatcher when done. */
    private boolean passedOver;
    /**
     * The dispatcher's news count when a claim showed that nothing more was due for any of this stream's
     * types: until news comes, more room (credit) alone finds nothing, so no claim is made.
     */
    private long drainedAt = -1;
    private final Tracing tracing;

    /** A lease this stream holds; {@code since} (nanoTime) when this broker saw it begin, for the run time. */
    private record Held(int attempt, UUID token, String type, String queue, long since, Tracing.Carrier trace) {
    }

    /**
     * @param typeLimits the types in the order announced, each with its own concurrency limit (0: none)
     * @param holders    the registry's index of which session holds which job, kept up to date here
     */
    WorkerSession(String sessionId, String workerId, String principal, Map<String, Integer> typeLimits,
                  List<String> queues,
                  int maxConcurrency, Instant connectedAt, WorkerLink link,
                  ConcurrentMap<Long, WorkerSession> holders, BrokerMetrics metrics, Tracing tracing) {
        this.metrics = metrics;
        this.tracing = tracing;
        this.sessionId = sessionId;
        this.workerId = workerId;
        this.principal = principal;
        this.typeLimits = new LinkedHashMap<>(typeLimits);
        this.queues = List.copyOf(queues);
        this.maxConcurrency = maxConcurrency;
        this.connectedAt = connectedAt;
        this.link = link;
        this.holders = holders;
    }

    public String sessionId() {
        return sessionId;
    }

    public String workerId() {
        return workerId;
    }

    /** The authenticated principal of the stream, or null when the broker does not authenticate. */
    public String principal() {
        return principal;
    }

    public List<String> jobTypes() {
        return List.copyOf(typeLimits.keySet());
    }

    /**
     * Starts a claim for this stream: what to claim, or null when it can take nothing, another claim for
     * it is running, or its last claim found everything drained and {@code news} says nothing happened
     * since. A non-null answer must be followed by {@link #endClaim(ClaimRequest, List, long)}.
     */
    synchronized ClaimRequest beginClaim(long news) {
        if (drainedAt == news || dispatcherClaim != null) {
            return null;
        }
        dispatcherClaim = claimFor(null);
        return dispatcherClaim;
    }

    /**
     * Ends a claim begun with {@link #beginClaim(long)} and notes whether it drained the stream's types:
     * it asked for every type and got less than it asked of each ({@code claimed} null: it failed).
     * True when a claim was wanted meanwhile.
     */
    synchronized boolean endClaim(ClaimRequest request, List<JobRecord> claimed, long news) {
        if (claimed != null && request.types().size() == typeLimits.size() && claimed.size() < request.limit()) {
            Map<String, Integer> got = new HashMap<>();
            claimed.forEach(job -> got.merge(job.type(), 1, Integer::sum));
            if (request.types().stream().allMatch(quota -> got.getOrDefault(quota.type(), 0) < quota.limit())) {
                drainedAt = news;
            }
        }
        if (dispatcherClaim == request) {
            dispatcherClaim = null;
        }
        return wanted();
    }

    /**
     * Like {@link #beginClaim}, sized for the jobs of one submit that are due now: only the types among
     * them that this stream runs from its queues, at most as many of each as there are; null when none.
     */
    synchronized ClaimRequest beginClaimFor(List<NewJob> due) {
        Map<String, Integer> dueByType = new HashMap<>();
        for (NewJob job : due) {
            if (typeLimits.containsKey(job.type()) && (queues.isEmpty() || queues.contains(job.queue()))) {
                dueByType.merge(job.type(), 1, Integer::sum);
            }
        }
        if (dueByType.isEmpty() || submitClaim != null) {
            return null;
        }
        submitClaim = claimFor(dueByType);
        return submitClaim;
    }

    /** Ends a claim begun with {@link #beginClaimFor}; true when a claim was wanted meanwhile (wake the dispatcher). */
    synchronized boolean endClaim(ClaimRequest request) {
        if (submitClaim == request) {
            submitClaim = null;
        }
        return wanted();
    }

    private boolean wanted() {
        boolean wanted = passedOver;
        passedOver = false;
        return wanted;
    }

    /** What the claims running now hold of {@code type} (null: of every type). */
    private int claiming(String type) {
        int n = 0;
        for (ClaimRequest running : new ClaimRequest[] {dispatcherClaim, submitClaim}) {
            if (running != null) {
                n += type == null ? running.limit()
                        : running.types().stream().filter(q -> q.type().equals(type)).mapToInt(ClaimRequest.TypeQuota::limit).sum();
            }
        }
        return n;
    }

    /** All the stream can take now, or (when {@code only} is not null) that much of those types. */
    private ClaimRequest claimFor(Map<String, Integer> only) {
        if (link.isClosed() || !accepting) {
            return null;
        }
        if (!link.isWritable()) {
            // The worker has not read what we sent: claim nothing more for it until it has.
            skippedBusy = true;
            return null;
        }
        int room = Math.min(credits, maxConcurrency - held.size()) - claiming(null);
        if (room <= 0) {
            return passedOver();
        }
        List<ClaimRequest.TypeQuota> quotas = new ArrayList<>();
        int total = 0;
        for (Map.Entry<String, Integer> entry : typeLimits.entrySet()) {
            String type = entry.getKey();
            int limit = entry.getValue();
            int quota = limit == 0 ? room : Math.min(room, limit - heldPerType.getOrDefault(type, 0) - claiming(type));
            if (only != null) {
                quota = Math.min(quota, only.getOrDefault(type, 0));
            }
            if (quota > 0) {
                quotas.add(new ClaimRequest.TypeQuota(type, quota));
                total += quota;
            }
        }
        return quotas.isEmpty() ? passedOver()
                : new ClaimRequest(workerId, principal, quotas, queues, Math.min(room, total));
    }

    /**
     * No claim now. When a running claim holds room (of the stream, or of a type), it may take less than it
     * holds: its claimer wakes the dispatcher once it ends, to look again.
     */
    private ClaimRequest passedOver() {
        passedOver |= dispatcherClaim != null || submitClaim != null;
        return null;
    }

    /**
     * Sends claimed jobs. False when the stream closed or stopped taking jobs (Goodbye, drain) while the
     * claim ran: the caller must give them back. An Assign sent after a Drain would reach a worker that
     * has already moved on, and the job would sit leased to nobody until its lease expired.
     */
    synchronized boolean deliver(List<JobRecord> jobs) {
        if (jobs.isEmpty()) {
            return true;
        }
        if (link.isClosed() || !accepting) {
            return false;
        }
        Assign.Builder assign = Assign.newBuilder();
        int size = 0;
        for (JobRecord job : jobs) {
            Tracing.Carrier trace = tracing.claim(job.traceParent(), job.traceState(), job.id(), job.attempt(),
                    job.type(), job.queue(), workerId);
            hold(job.id(), job.attempt(), job.leaseToken(), job.type(), job.queue(), trace);
            Instant due = job.runAt().isAfter(job.createdAt()) ? job.runAt() : job.createdAt();
            metrics.started(job.type(), job.queue(), job.startedAt() == null ? java.time.Duration.ZERO
                    : java.time.Duration.between(due, job.startedAt()));
            AssignedJob assigned = toAssigned(job, trace);
            if (assign.getJobsCount() > 0 && size + assigned.getSerializedSize() > MAX_ASSIGN_BYTES) {
                send(BrokerMessage.newBuilder().setAssign(assign).build());
                assign = Assign.newBuilder();
                size = 0;
            }
            assign.addJobs(assigned);
            size += assigned.getSerializedSize();
        }
        credits = Math.max(0, credits - jobs.size());
        send(BrokerMessage.newBuilder().setAssign(assign).build());
        return true;
    }

    private static AssignedJob toAssigned(JobRecord job, Tracing.Carrier trace) {
        AssignedJob.Builder assigned = AssignedJob.newBuilder();
        if (!trace.isEmpty()) {
            assigned.setTraceParent(trace.traceParent());
            if (trace.traceState() != null) {
                assigned.setTraceState(trace.traceState());
            }
        }
        assigned
                .setLease(LeaseRef.newBuilder()
                        .setJobId(Long.toString(job.id()))
                        .setAttempt(job.attempt())
                        .setLeaseToken(job.leaseToken().toString()))
                .setType(job.type())
                .setQueue(job.queue())
                .setPayload(job.payload())
                .setPriority(job.priority())
                .putAllLabels(job.labels())
                .setMaxAttempts(job.maxAttempts())
                .setLeaseDuration(ProtoJobs.duration(java.time.Duration.ofMillis(job.leaseDurationMs())))
                .setLeaseExpiresAt(ProtoJobs.timestamp(job.leaseExpiresAt()))
                .setCreatedAt(ProtoJobs.timestamp(job.createdAt()))
                .setOwner(job.owner())
                .setJobToken(JobTokens.issue(job.id(), job.attempt(), job.leaseToken()));
        if (job.runTimeoutMs() != null) {
            assigned.setRunTimeout(ProtoJobs.duration(java.time.Duration.ofMillis(job.runTimeoutMs())));
        }
        if (job.dependsOn() != null) {
            job.dependsOn().forEach(id -> assigned.addDependsOn(Long.toString(id)));
        }
        return assigned.build();
    }

    public synchronized void addCredit(int jobs) {
        credits = (int) Math.min((long) credits + jobs, MAX_CREDIT_BALANCE);
    }

    /** Records a lease the worker proved it holds (a valid heartbeat or progress, maybe from an earlier stream). */
    public synchronized void adopt(long jobId, int attempt, UUID token, String type) {
        Held current = held.get(jobId);
        if (current == null || current.attempt() < attempt) {
            hold(jobId, attempt, token, type == null ? "" : type, current == null ? "" : current.queue(),
                    current == null ? null : current.trace());
        }
    }

    private void hold(long jobId, int attempt, UUID token, String type, String queue, Tracing.Carrier trace) {
        forget(jobId); // an older attempt of the same job: its lease is gone
        held.put(jobId, new Held(attempt, token, type, queue, System.nanoTime(), trace));
        heldPerType.merge(type, 1, Integer::sum);
        holders.put(jobId, this);
    }

    /** The worker no longer holds the job (finished, refused, or its lease is gone). */
    public synchronized void forget(long jobId) {
        Held removed = held.remove(jobId);
        if (removed != null) {
            heldPerType.computeIfPresent(removed.type(), (type, count) -> count > 1 ? count - 1 : null);
            holders.remove(jobId, this);
        }
    }

    /** What a finish is counted by: the job's type and queue, and since when this broker saw its lease. */
    public record Lease(String type, String queue, long since, Tracing.Carrier trace) {
    }

    /** The lease held on the job now, to count its finish by (the bus may forget it before the answer). */
    public synchronized Lease lease(long jobId) {
        Held current = held.get(jobId);
        return current == null ? null : new Lease(current.type(), current.queue(), current.since(), current.trace());
    }

    /**
     * The worker finished the job under {@code lease} ({@code outcome}: succeeded, failed, retried,
     * released): counted with its run time, and forgotten.
     */
    public void finished(long jobId, Lease lease, String outcome) {
        if (lease != null) {
            metrics.finished(lease.type(), lease.queue(), outcome, java.time.Duration.ofNanos(System.nanoTime() - lease.since()));
            tracing.finish(lease.trace(), jobId, lease.type(), lease.queue(), outcome);
        }
        forget(jobId);
    }

    /** Jobs this stream could take now: its credit, within its concurrency. */
    public synchronized long room() {
        return Math.max(0, Math.min(credits, maxConcurrency - held.size()));
    }

    synchronized boolean holds(long jobId, int attempt) {
        Held current = held.get(jobId);
        return current != null && current.attempt() == attempt;
    }

    synchronized List<io.jobwire.broker.store.LeaseRef> heldLeases() {
        List<io.jobwire.broker.store.LeaseRef> leases = new ArrayList<>(held.size());
        held.forEach((id, h) -> leases.add(new io.jobwire.broker.store.LeaseRef(id, h.attempt(), h.token())));
        return leases;
    }

    /** After Goodbye or a drain: no more jobs for this stream. */
    public synchronized void stopAccepting() {
        accepting = false;
    }

    /** Sends a message unless the stream has closed (see {@link WorkerLink}). */
    public void send(BrokerMessage message) {
        link.send(message);
    }

    /** Ends the stream from the broker's side with {@code status} (OK completes it normally). */
    public void end(Status status) {
        link.end(status);
    }

    /** The stream has closed from the worker's side. */
    void markClosed() {
        link.markClosed();
    }

    /** The link can take messages again; true when a claim was skipped meanwhile (wake the dispatcher). */
    public synchronized boolean writableAgain() {
        boolean skipped = skippedBusy;
        skippedBusy = false;
        return skipped;
    }

    public WorkerLink link() {
        return link;
    }

    public synchronized WorkerSessionRecord snapshot(String brokerId) {
        int free = accepting && !link.isClosed() ? Math.max(0, Math.min(credits, maxConcurrency - held.size())) : 0;
        return new WorkerSessionRecord(sessionId, workerId, principal, brokerId, jobTypes(), queues, maxConcurrency,
                held.size(), free, connectedAt, null);
    }
}
