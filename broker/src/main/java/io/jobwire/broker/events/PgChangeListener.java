package io.jobwire.broker.events;

import io.jobwire.broker.store.ChangeNotifier;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Listens on {@link ChangeNotifier#CHANNEL} over a dedicated connection and republishes other brokers'
 * changes on the local {@link ChangeBus}. The connection is pinged and reopened when it fails; after
 * every (re)connect the bus is told to resync, because notifications sent meanwhile are lost.
 * Notifications are hints: polling stays the source of truth.
 */
public final class PgChangeListener implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PgChangeListener.class);
    private static final int WAIT_MILLIS = 250;
    private static final Duration PING_EVERY = Duration.ofSeconds(5);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);

    /** Opens a fresh connection outside the pool, held for as long as it works. */
    @FunctionalInterface
    public interface ConnectionFactory {
        Connection open() throws SQLException;
    }

    private final ConnectionFactory connections;
    private final String ownOrigin;
    private final ChangeBus bus;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile Connection current;

    public PgChangeListener(ConnectionFactory connections, String ownOrigin, ChangeBus bus) {
        this.connections = connections;
        this.ownOrigin = ownOrigin;
        this.bus = bus;
        this.thread = new Thread(this::run, "jobwire-listen");
        this.thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    private void run() {
        long backoffMillis = 100;
        while (running) {
            try (Connection connection = connections.open()) {
                current = connection;
                try (Statement statement = connection.createStatement()) {
                    statement.execute("LISTEN " + ChangeNotifier.CHANNEL);
                }
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
            }
        }
    }

    private void listen(Connection connection) throws SQLException {
        PGConnection pg = connection.unwrap(PGConnection.class);
        long lastPing = System.nanoTime();
        while (running) {
            PGNotification[] notifications = pg.getNotifications(WAIT_MILLIS);
            if (notifications != null) {
                for (PGNotification notification : notifications) {
                    deliver(notification.getParameter());
                }
            }
            if (System.nanoTime() - lastPing > PING_EVERY.toNanos()) {
                try (Statement ping = connection.createStatement()) {
                    ping.execute("SELECT 1");
                }
                lastPing = System.nanoTime();
            }
        }
    }

    private void deliver(String payload) {
        try {
            ChangeNotifier.Notification notification = ChangeNotifier.parse(payload);
            if (!notification.origin().equals(ownOrigin)) {
                bus.publish(notification.changes());
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
