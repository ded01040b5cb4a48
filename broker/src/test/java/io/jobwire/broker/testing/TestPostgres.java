package io.jobwire.broker.testing;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * One real PostgreSQL for the whole test run, and a fresh database in it for each test class or broker.
 * By default it is the embedded server the broker itself uses; with {@code -Djobwire.test.postgres=stock}
 * it is the machine's installed PostgreSQL (see {@link StockPostgres}), which the build runs the store and
 * dispatch tests against a second time when it is installed.
 */
public final class TestPostgres {
    private static final AtomicInteger DATABASES = new AtomicInteger();
    private static Function<String, String> urls;

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

    /** Creates an empty database and returns its JDBC URL. */
    public static String newDatabase() {
        String name = "jobwire_test_" + DATABASES.incrementAndGet();
        try (Connection connection = DriverManager.getConnection(url("postgres"));
             Statement statement = connection.createStatement()) {
            statement.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create test database " + name, e);
        }
        return url(name);
    }
}
