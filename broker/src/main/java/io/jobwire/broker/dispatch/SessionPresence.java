package io.jobwire.broker.dispatch;

import io.jobwire.broker.store.RegistryStore;
import io.jobwire.broker.store.WorkerSessionRecord;
import java.util.List;

/**
 * Keeps {@code worker_sessions} true for this broker's streams (capacity, last seen), and removes the
 * sessions of brokers that died without saying so. Maintenance runs it every presence interval.
 */
public final class SessionPresence {

    private final SessionRegistry sessions;
    private final RegistryStore registry;

    public SessionPresence(SessionRegistry sessions, RegistryStore registry) {
        this.sessions = sessions;
        this.registry = registry;
    }

    /** One pass: this broker's sessions written, those of brokers gone quiet removed. */
    public void refresh() {
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
