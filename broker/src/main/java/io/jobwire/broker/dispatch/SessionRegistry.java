package io.jobwire.broker.dispatch;

import io.jobwire.broker.tracing.Tracing;
import io.jobwire.broker.metrics.BrokerMetrics;
import io.grpc.Status;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.CancelJob;
import io.jobwire.api.v1.Drain;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.events.ChangeListener;
import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobStatus;
import io.jobwire.broker.store.WorkerSessionRecord;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The worker streams open on this broker, and which of them holds which job. It tells a worker when a
 * job it holds is cancelled (by any broker), and forgets leases that ended elsewhere (reaped, finished
 * through another stream).
 */
public final class SessionRegistry implements ChangeListener {
    private final ConcurrentMap<String, WorkerSession> sessions = new ConcurrentHashMap<>();
    private final ConcurrentMap<Long, WorkerSession> holders = new ConcurrentHashMap<>();
    private final String brokerId;
    private final BrokerMetrics metrics;

    private final Tracing tracing;

    public SessionRegistry(String brokerId, BrokerMetrics metrics, Tracing tracing) {
        this.brokerId = brokerId;
        this.metrics = metrics;
        this.tracing = tracing;
        metrics.workers(sessions::size, () -> sessions.values().stream().mapToLong(WorkerSession::room).sum());
    }

    /** Opens a session for a stream whose Hello was accepted. */
    public WorkerSession open(String workerId, String principal, Map<String, Integer> typeLimits, List<String> queues,
                              int maxConcurrency, Instant connectedAt, WorkerLink link) {
        WorkerSession session = new WorkerSession(UUID.randomUUID().toString(), workerId, principal, typeLimits, queues,
                maxConcurrency, connectedAt, link, holders, metrics, tracing);
        sessions.put(session.sessionId(), session);
        return session;
    }

    /** The stream closed: forget the session. Its leases stay valid in the database until they expire. */
    public void close(WorkerSession session) {
        session.markClosed();
        sessions.remove(session.sessionId());
        for (var lease : session.heldLeases()) {
            holders.remove(lease.jobId(), session);
        }
    }

    public boolean isOpen(String sessionId) {
        return sessions.containsKey(sessionId);
    }

    public List<WorkerSession> sessions() {
        return List.copyOf(sessions.values());
    }

    public List<WorkerSessionRecord> snapshots() {
        return sessions.values().stream().map(session -> session.snapshot(brokerId)).toList();
    }

    public String brokerId() {
        return brokerId;
    }

    /** Tells every stream to move elsewhere: no more jobs here, and the stream closes after {@code grace}. */
    public void drainAll(Duration grace) {
        BrokerMessage drain = BrokerMessage.newBuilder()
                .setDrain(Drain.newBuilder().setDeadline(ProtoJobs.duration(grace)))
                .build();
        for (WorkerSession session : sessions.values()) {
            session.stopAccepting();
            session.send(drain);
        }
    }

    /**
     * Ends the streams whose worker has read nothing we sent for {@code limit} (as of {@code now}): a
     * worker that stopped reading holds what waits for it and takes no jobs. Its leases stay valid until
     * they expire, so it may reconnect and finish. Returns the sessions ended.
     */
    public List<WorkerSession> endStalled(Instant now, Duration limit) {
        List<WorkerSession> ended = new java.util.ArrayList<>();
        for (WorkerSession session : sessions.values()) {
            Duration waiting = session.link().waitingFor(now);
            if (waiting.compareTo(limit) >= 0) {
                session.end(Status.UNAVAILABLE.withDescription("the worker read nothing the broker sent for "
                        + waiting.toSeconds() + "s; reconnect"));
                close(session);
                ended.add(session);
            }
        }
        return ended;
    }

    /** Closes every remaining stream with UNAVAILABLE, so workers reconnect to another broker. */
    public void closeAll() {
        for (WorkerSession session : sessions.values()) {
            session.end(Status.UNAVAILABLE.withDescription("the broker is shutting down; reconnect to another broker"));
            close(session);
        }
    }

    @Override
    public void onChanges(List<JobChange> changes) {
        for (JobChange change : changes) {
            if (change.state() == JobStatus.RUNNING) {
                continue;
            }
            WorkerSession holder = holders.get(change.id());
            if (holder == null || !holder.holds(change.id(), change.attempt())) {
                continue;
            }
            // The lease ended: the job no longer counts against the stream's concurrency. The worker of a
            // cancelled job, or of an attempt that ran past its run timeout, is told to stop; it grants
            // credit again once its handler has returned.
            holder.forget(change.id());
            if (change.state() == JobStatus.CANCELLED || change.timedOut()) {
                holder.send(BrokerMessage.newBuilder()
                        .setCancelJob(CancelJob.newBuilder()
                                .setJobId(Long.toString(change.id()))
                                .setAttempt(change.attempt())
                                .setTimedOut(change.timedOut())
                                .setReason(change.timedOut() ? "the attempt ran past its run timeout"
                                        : "the job was cancelled"))
                        .build());
            }
        }
    }
}
