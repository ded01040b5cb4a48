package io.jobwire.broker.dashboard;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The dashboard's sessions, in this broker's memory: the cookie holds only a random id; the token a person
 * logged in with stays on the server. A session ends at logout, after {@link #IDLE} without a request, or
 * when the broker stops (log in again on another broker). Each session has its own CSRF token, which every
 * form carries and every state change must send back.
 */
final class Sessions {
    static final Duration IDLE = Duration.ofHours(8);
    private static final int MAX_SESSIONS = 10_000;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Who a session acts for: the token its calls carry (null on an open broker) and what it may see. */
    record Account(String name, boolean admin, String token) {
        @Override
        public String toString() {
            return "Account[" + name + "]"; // never the token
        }
    }

    static final class Session {
        final String id;
        final String csrf;
        volatile Account account;
        volatile Instant lastSeen;

        Session(String id, String csrf, Account account, Instant now) {
            this.id = id;
            this.csrf = csrf;
            this.account = account;
            this.lastSeen = now;
        }

        boolean csrfMatches(String sent) {
            return sent != null && MessageDigest.isEqual(csrf.getBytes(StandardCharsets.UTF_8),
                    sent.getBytes(StandardCharsets.UTF_8));
        }
    }

    private final Map<String, Session> byId = new ConcurrentHashMap<>();
    private final Clock clock;

    Sessions(Clock clock) {
        this.clock = clock;
    }

    /** The live session with this id, touched; null when there is none (unknown, ended or idle too long). */
    Session find(String id) {
        if (id == null) {
            return null;
        }
        Session session = byId.get(id);
        Instant now = clock.instant();
        if (session == null || session.lastSeen.plus(IDLE).isBefore(now)) {
            if (session != null) {
                byId.remove(id, session);
            }
            return null;
        }
        session.lastSeen = now;
        return session;
    }

    /** A new session (logged in when account is given, else only able to log in). */
    Session open(Account account) {
        if (byId.size() >= MAX_SESSIONS) {
            evict();
        }
        Session session = new Session(random(), random(), account, clock.instant());
        byId.put(session.id, session);
        return session;
    }

    void close(Session session) {
        byId.remove(session.id, session);
    }

    private void evict() {
        Instant now = clock.instant();
        byId.values().removeIf(s -> s.lastSeen.plus(IDLE).isBefore(now));
        while (byId.size() >= MAX_SESSIONS) {
            byId.values().stream().min(Comparator.comparing(s -> s.lastSeen))
                    .ifPresent(oldest -> byId.remove(oldest.id, oldest));
        }
    }

    private static String random() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
