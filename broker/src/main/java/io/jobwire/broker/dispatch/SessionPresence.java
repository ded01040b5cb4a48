package io.jobwire.broker.dispatch;

import io.jobwire.broker.store.RegistryStore;
import io.jobwire.broker.store.WorkerSessionRecord;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps {@code worker_sessions} true for this broker's streams (capacity, last seen), and removes the
 * sessions of brokers that died without saying so, and ends the streams of workers that stopped reading. Maintenance runs it every presence interval.
 */
public final class SessionPresence {

    private static final Logger log = LoggerFactory.getLogger(SessionPresence.class);

    private final SessionRegistry sessions;
    private final RegistryStore registry;
    private final Clock clock;
    private final Duration stallLimit;

    /** @param stallLimit how long a worker may leave what the broker sent unread before its stream is ended */
    public SessionPresence(SessionRegistry sessions, RegistryStore registry, Clock clock, Duration stallLimit) {
        this.sessions = sessions;
        this.registry = registry;
        this.clock = clock;
        this.stallLimit = stallLimit;
    }

    /**
     * One pass: the streams of workers that stopped reading ended, this broker's sessions written, those of
     * brokers gone quiet removed.
     */
    public void refresh() {
        List<WorkerSession> stalled = sessions.endStalled(clock.instant(), stallLimit);
        for (WorkerSession session : stalled) {
            log.warn("ended the stream of worker {}: it read nothing the broker sent for {} or more",
                    session.workerId(), stallLimit);
        }
        registry.removeSessions(stalled.stream().map(WorkerSession::sessionId).toList());
        List<WorkerSessionRecord> open = sessions.snapshots();
        registry.refreshSessions(open);
        // A stream that closed after the snapshot had its row deleted, and the refresh just put it
        // back: delete it again rather than show a gone worker until it goes stale.
        List<String> closedMeanwhile = open.stream().map(WorkerSessionRecord::sessionId)
                .filter(id -> !sessions.isOpen(id)).toList();
        registry.removeSessions(closedMeanwhile);
        registry.purgeStaleSessions();
    }
}
