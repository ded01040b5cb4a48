package io.jobwire.broker.dispatch;

import io.jobwire.broker.api.Statuses;
import io.jobwire.broker.store.RegistryStore;
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
            registry.refreshSessions(sessions.snapshots());
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
