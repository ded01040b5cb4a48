package io.jobwire.broker.events;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.function.BooleanSupplier;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Listens on {@link Notifications#CHANNEL} over a dedicated connection and republishes other brokers'
 * changes on the local {@link ChangeBus}. The connection is pinged and reopened when it fails; after
 * every (re)connect the bus is told to resync, because notifications sent meanwhile are lost.
 * Notifications are hints: polling stays the source of truth.
 *
 * <p>It also keeps track of whether any other broker listens, so a lone broker sends no notifications:
 * while it listens, the connection holds a shared advisory lock ({@link #PRESENCE_LOCK}), which
 * PostgreSQL drops with the connection, and every {@link #PEER_CHECK} it counts the other holders in
 * {@code pg_locks}. A broker that starts listening says so on the channel ({@link Notifications.Kind#JOINED}),
 * so the others start announcing at once rather than at their next count; it resyncs once more after
 * {@link #SETTLE} to pick up what they committed before they heard it.
 *
 * <p>Watchers work the same way: while this broker has any (and for {@link #WATCH_LINGER} after the last
 * leaves), the connection also holds {@link #WATCH_LOCK}, and the others, counting its holders or told by
 * a {@link Notifications.Kind#WATCHING} message, send every change rather than only what their dispatchers
 * need. A watch starts its snapshot only once the lock is held and the message sent ({@link #announceWatching}).
 */
public final class PgChangeListener implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PgChangeListener.class);
    /** The advisory lock key (shared) held by every listening broker: "jobwire" in ASCII. */
    public static final long PRESENCE_LOCK = 0x6A6F6277697265L;
    /** The advisory lock key (shared) held by every broker that has watchers. */
    public static final long WATCH_LOCK = PRESENCE_LOCK + 1;
    /** How long the watch lock is kept after the last watcher left: watches come and go in bursts. */
    static final Duration WATCH_LINGER = Duration.ofSeconds(30);
    private static final int WAIT_MILLIS = 250;
    static final Duration PEER_CHECK = Duration.ofSeconds(1);
    static final Duration SETTLE = Duration.ofSeconds(1);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);
    private static final String COUNT_PEERS = "SELECT count(*) FILTER (WHERE objid::bigint = " + (PRESENCE_LOCK & 0xFFFFFFFFL)
            + "), count(*) FILTER (WHERE objid::bigint = " + (WATCH_LOCK & 0xFFFFFFFFL) + ") FROM pg_locks"
            + " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
            + " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            + " AND classid::bigint = " + (PRESENCE_LOCK >>> 32) + " AND objsubid = 1";

    /** Opens a fresh connection outside the pool, held for as long as it works. */
    @FunctionalInterface
    public interface ConnectionFactory {
        Connection open() throws SQLException;
    }

    private final ConnectionFactory connections;
    private final String ownOrigin;
    private final ChangeBus bus;
    private final Thread thread;
    private final CountDownLatch firstConnect = new CountDownLatch(1);
    private volatile boolean running = true;
    private volatile boolean peersListening = true;
    private volatile boolean peersWatching = true;
    private volatile Connection current;
    /** False from a (re)connect until the resync {@link #SETTLE} after it has been handed to the bus. */
    private volatile boolean settled;
    private volatile BooleanSupplier watching = () -> false;
    /** Watches waiting for the watch lock and message; completed by the listening thread. */
    private final List<CompletableFuture<Void>> watchAnnounced = new ArrayList<>();
    /** Whether this connection holds the watch lock (written by the listening thread only). */
    private volatile boolean holdingWatchLock;
    /** Listening thread only: since when this broker has had no watchers while holding the lock (0: it has). */
    private long unwatchedSince;

    public PgChangeListener(ConnectionFactory connections, String ownOrigin, ChangeBus bus) {
        this.connections = connections;
        this.ownOrigin = Notifications.checkOrigin(ownOrigin);
        this.bus = bus;
        this.thread = new Thread(this::run, "jobwire-listen");
        this.thread.setDaemon(true);
    }

    /** Starts listening and waits (up to the timeout) until the first LISTEN is in place. */
    public void start(Duration timeout) {
        thread.start();
        try {
            if (!firstConnect.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                log.warn("not listening to other brokers yet after {}; carrying on, and polling covers it", timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Whether the listener is connected and has no resync of its own still to come: the one at connect and
     * the one {@link #SETTLE} after it have both been handed to the bus.
     */
    public boolean settled() {
        return settled;
    }

    /**
     * Whether another broker listens, as of the last count or JOINED message. True when unknown (this
     * listener is not connected): sending a hint nobody needs is cheaper than missing one.
     */
    public boolean peersListening() {
        return peersListening;
    }

    /**
     * Whether another broker has watchers, as of the last count or WATCHING message. True when unknown
     * (this listener is not connected).
     */
    public boolean peersWatching() {
        return peersWatching;
    }

    /** Where this listener learns whether this broker has watchers (checked each time round its loop). */
    public void watchersFrom(BooleanSupplier localWatchers) {
        this.watching = localWatchers;
    }

    /**
     * Makes sure other brokers send this one every change: completes once this connection holds the watch
     * lock and has said so on the channel (at once if it already does). A caller should not wait for it
     * longer than a few of the listener's rounds: while the connection is down it does not complete.
     */
    public CompletableFuture<Void> announceWatching() {
        if (holdingWatchLock) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> announced = new CompletableFuture<>();
        synchronized (watchAnnounced) {
            watchAnnounced.removeIf(CompletableFuture::isDone); // given up on while the connection was down
            watchAnnounced.add(announced);
        }
        return announced;
    }

    private void run() {
        long backoffMillis = 100;
        while (running) {
            settled = false;
            try (Connection connection = connections.open()) {
                current = connection;
                try (Statement statement = connection.createStatement()) {
                    statement.execute("LISTEN " + Notifications.CHANNEL);
                    statement.execute("SELECT pg_advisory_lock_shared(" + PRESENCE_LOCK + ")");
                }
                try (PreparedStatement joined = connection.prepareStatement("SELECT pg_notify(?, ?)")) {
                    joined.setString(1, Notifications.CHANNEL);
                    joined.setString(2, Notifications.joined(ownOrigin));
                    joined.execute();
                }
                countPeers(connection);
                firstConnect.countDown();
                backoffMillis = 100;
                bus.resync();
                listen(connection);
            } catch (SQLException | RuntimeException e) {
                if (running) {
                    log.warn("change listener lost its connection ({}); reconnecting in {} ms", e.getMessage(), backoffMillis);
                    sleep(backoffMillis);
                    backoffMillis = Math.min(backoffMillis * 2, MAX_BACKOFF.toMillis());
                }
            } finally {
                current = null;
                holdingWatchLock = false; // the lock went with the connection
                unwatchedSince = 0;
                peersListening = true;
                peersWatching = true;
            }
        }
    }

    private void listen(Connection connection) throws SQLException {
        PGConnection pg = connection.unwrap(PGConnection.class);
        long settleAt = System.nanoTime() + SETTLE.toNanos();
        long lastCheck = System.nanoTime();
        while (running) {
            PGNotification[] notifications = pg.getNotifications(WAIT_MILLIS);
            if (notifications != null) {
                for (PGNotification notification : notifications) {
                    deliver(notification.getParameter());
                }
            }
            long now = System.nanoTime();
            if (syncWatchLock(connection, now)) {
                // What the others committed before they heard: re-read once they surely have.
                settleAt = now + SETTLE.toNanos();
            }
            if (settleAt != 0 && now - settleAt >= 0) {
                settleAt = 0;
                bus.resync();
                settled = true;
            }
            if (now - lastCheck >= PEER_CHECK.toNanos()) {
                countPeers(connection);
                lastCheck = now;
            }
        }
    }

    /**
     * Takes the watch lock (and says so) when this broker has watchers or a watch waits for it; lets it go
     * {@link #WATCH_LINGER} after the last watcher left. Returns true when it took the lock.
     */
    private boolean syncWatchLock(Connection connection, long now) throws SQLException {
        boolean waiting;
        synchronized (watchAnnounced) {
            waiting = !watchAnnounced.isEmpty();
        }
        boolean watchers = waiting || watching.getAsBoolean();
        if (watchers) {
            unwatchedSince = 0;
        } else if (holdingWatchLock && unwatchedSince == 0) {
            unwatchedSince = now;
        }
        boolean took = false;
        if (watchers && !holdingWatchLock) {
            try (Statement statement = connection.createStatement()) {
                statement.execute("SELECT pg_advisory_lock_shared(" + WATCH_LOCK + ")");
            }
            try (PreparedStatement said = connection.prepareStatement("SELECT pg_notify(?, ?)")) {
                said.setString(1, Notifications.CHANNEL);
                said.setString(2, Notifications.watching(ownOrigin));
                said.execute();
            }
            holdingWatchLock = true;
            took = true;
        } else if (!watchers && holdingWatchLock && now - unwatchedSince >= WATCH_LINGER.toNanos()) {
            try (Statement statement = connection.createStatement()) {
                statement.execute("SELECT pg_advisory_unlock_shared(" + WATCH_LOCK + ")");
            }
            holdingWatchLock = false;
        }
        if (waiting && holdingWatchLock) {
            List<CompletableFuture<Void>> done;
            synchronized (watchAnnounced) {
                done = List.copyOf(watchAnnounced);
                watchAnnounced.clear();
            }
            done.forEach(future -> future.complete(null));
        }
        return took;
    }

    /**
     * Counts the other sessions holding the presence lock and the watch lock; doubles as the connection's
     * ping.
     */
    private void countPeers(Connection connection) throws SQLException {
        try (PreparedStatement count = connection.prepareStatement(COUNT_PEERS); ResultSet rows = count.executeQuery()) {
            rows.next();
            peersListening = rows.getLong(1) > 0;
            peersWatching = rows.getLong(2) > 0;
        }
    }

    private void deliver(String payload) {
        try {
            Notifications.Notification notification = Notifications.parse(payload);
            if (notification.origin().equals(ownOrigin)) {
                return;
            }
            switch (notification.kind()) {
                case CHANGES -> bus.publish(notification.changes());
                case DUE -> bus.due(notification.dueNow(), notification.dueLater());
                case RESYNC -> bus.resync();
                case JOINED -> peersListening = true;
                case WATCHING -> {
                    peersListening = true;
                    peersWatching = true;
                }
            }
        } catch (IllegalArgumentException e) {
            log.warn("ignoring malformed change notification: {}", e.getMessage());
        }
    }

    private static void sleep(long millis) {
        try {
            TimeUnit.MILLISECONDS.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        running = false;
        Connection connection = current;
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException ignored) {
                // closing is all we wanted
            }
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
