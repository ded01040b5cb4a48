package io.jobwire.broker.testing;

import io.jobwire.broker.db.Database;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * One real PostgreSQL for the whole test run, and a fresh database in it for each test class or broker.
 * A fresh database is a copy of one migrated once per run ({@code CREATE DATABASE ... TEMPLATE}): a
 * broker starting on it finds its schema current, as on every restart, instead of applying every
 * migration again (a second each, hundreds of times a run). Tests of a first start or of a migration take
 * {@link #newEmptyDatabase()}. By default it is the embedded server the broker itself uses; with {@code -Djobwire.test.postgres=stock}
 * it is the machine's installed PostgreSQL (see {@link StockPostgres}), which the build runs the store and
 * dispatch tests against a second time when it is installed.
 */
public final class TestPostgres {
    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static final String TEMPLATE = "jobwire_test_migrated";
    /** PostgreSQL's "source database is being accessed by other users": a pool's backends still exiting. */
    private static final String OBJECT_IN_USE = "55006";
    private static Function<String, String> urls;
    private static boolean templateMade;

    private TestPostgres() {
    }

    /** True when this run's tests use the installed PostgreSQL rather than the embedded one. */
    public static boolean isStock() {
        return "stock".equals(System.getProperty("jobwire.test.postgres"));
    }

    /** The JDBC URL of {@code database} on the test server, starting the server on first use. */
    private static synchronized String url(String database) {
        if (urls == null) {
            urls = isStock() ? StockPostgres.start()::jdbcUrl : embedded();
        }
        return urls.apply(database);
    }

    private static Function<String, String> embedded() {
        try {
            EmbeddedPostgres server = EmbeddedPostgres.builder()
                    .setServerConfig("max_connections", "400")
                    .setServerConfig("fsync", "off")
                    .start();
            return database -> server.getJdbcUrl("postgres", database);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the test PostgreSQL", e);
        }
    }

    /** Creates a database with the broker's schema (as its migrations leave it, no rows) and returns its JDBC URL. */
    public static String newDatabase() {
        makeTemplate();
        String name = "jobwire_test_" + DATABASES.incrementAndGet();
        for (int tries = 1; ; tries++) {
            try {
                execute("CREATE DATABASE " + name + " TEMPLATE " + TEMPLATE);
                return url(name);
            } catch (SQLException e) {
                if (!OBJECT_IN_USE.equals(e.getSQLState()) || tries == 50) {
                    throw new IllegalStateException("cannot create test database " + name, e);
                }
                sleep();
            }
        }
    }

    /** Creates an empty database (no schema) and returns its JDBC URL. */
    public static String newEmptyDatabase() {
        String name = "jobwire_test_" + DATABASES.incrementAndGet();
        try {
            execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create test database " + name, e);
        }
        return url(name);
    }

    private static synchronized void makeTemplate() {
        if (templateMade) {
            return;
        }
        try {
            execute("CREATE DATABASE " + TEMPLATE);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create the test template database", e);
        }
        try (Database db = Database.connect(url(TEMPLATE), 1, Duration.ofSeconds(30), "test-template")) {
            db.migrate();
        }
        templateMade = true;
    }

    private static void execute(String sql) throws SQLException {
        try (Connection connection = DriverManager.getConnection(url("postgres"));
             Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
