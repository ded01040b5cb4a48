package io.jobwire.broker.dispatch;

import io.jobwire.broker.api.Statuses;
import io.jobwire.broker.store.RegistryStore;
import io.jobwire.broker.store.WorkerSessionRecord;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps {@code worker_sessions} true for this broker's streams (capacity, last seen), and removes the
 * sessions of brokers that died without saying so. Run it every presence interval.
 */
public final class SessionPresence implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(SessionPresence.class);

    private final SessionRegistry sessions;
    private final RegistryStore registry;

    public SessionPresence(SessionRegistry sessions, RegistryStore registry) {
        this.sessions = sessions;
        this.registry = registry;
    }

    @Override
    public void run() {
        try {
            List<WorkerSessionRecord> open = sessions.snapshots();
            registry.refreshSessions(open);
            // A stream that closed after the snapshot had its row deleted, and the refresh just put it
            // back: delete it again rather than show a gone worker until it goes stale.
            List<String> closedMeanwhile = open.stream().map(WorkerSessionRecord::sessionId)
                    .filter(id -> !sessions.isOpen(id)).toList();
            registry.removeSessions(closedMeanwhile);
            registry.purgeStaleSessions();
        } catch (RuntimeException e) {
            if (Statuses.isDatabaseUnavailable(e)) {
                log.warn("cannot record worker sessions ({}); will try again", e.getMessage());
            } else {
                log.error("recording worker sessions failed; will try again", e);
            }
        }
    }
}
