package io.jobwire.broker.db;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Properties;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Jdbi;

/**
 * The broker's PostgreSQL: a connection pool for short transactions, dedicated connections for
 * LISTEN, and the versioned schema migrations, applied at start (Flyway takes a lock, so brokers
 * starting together migrate once).
 */
public final class Database implements AutoCloseable {
    private final String jdbcUrl;
    private final HikariDataSource pool;
    private final Jdbi jdbi;

    private Database(String jdbcUrl, HikariDataSource pool) {
        this.jdbcUrl = jdbcUrl;
        this.pool = pool;
        this.jdbi = Jdbi.create(pool);
    }

    /**
     * Opens a pool on {@code url} (a {@code jdbc:postgresql:} URL, or a {@code postgres://} URI as libpq
     * takes it). Fails fast when the database cannot be reached.
     */
    public static Database connect(String url, int poolSize, Duration connectionTimeout, String applicationName) {
        String jdbcUrl = toJdbcUrl(url);
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setMaximumPoolSize(poolSize);
        config.setMinimumIdle(Math.min(2, poolSize));
        config.setConnectionTimeout(connectionTimeout.toMillis());
        config.setPoolName("jobwire-db");
        config.addDataSourceProperty("ApplicationName", applicationName);
        config.addDataSourceProperty("tcpKeepAlive", "true");
        return new Database(jdbcUrl, new HikariDataSource(config));
    }

    /** Applies pending migrations from {@code db/migration}. */
    public void migrate() {
        Flyway.configure()
                .dataSource(pool)
                .locations("classpath:db/migration")
                .load()
                .migrate();
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    /** A new connection outside the pool, for a long-lived LISTEN. The caller closes it. */
    public Connection openDedicated() throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("ApplicationName", "jobwire-listen");
        properties.setProperty("tcpKeepAlive", "true");
        properties.setProperty("connectTimeout", "5");
        return DriverManager.getConnection(jdbcUrl, properties);
    }

    public String jdbcUrl() {
        return jdbcUrl;
    }

    @Override
    public void close() {
        pool.close();
    }

    /** Accepts {@code jdbc:postgresql://...} as is and converts {@code postgres[ql]://user:pw@host:port/db?...}. */
    static String toJdbcUrl(String url) {
        if (url.startsWith("jdbc:postgresql:")) {
            return url;
        }
        if (!url.startsWith("postgres://") && !url.startsWith("postgresql://")) {
            throw new IllegalArgumentException("--database-url: expected jdbc:postgresql://... or postgres://..., got "
                    + url.replaceAll("://[^@/]*@", "://***@"));
        }
        URI uri = URI.create(url);
        StringBuilder jdbc = new StringBuilder("jdbc:postgresql://").append(uri.getHost());
        if (uri.getPort() > 0) {
            jdbc.append(':').append(uri.getPort());
        }
        jdbc.append(uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath());
        StringBuilder query = new StringBuilder(uri.getRawQuery() == null ? "" : uri.getRawQuery());
        if (uri.getRawUserInfo() != null) {
            String[] userInfo = uri.getRawUserInfo().split(":", 2);
            appendParam(query, "user", decode(userInfo[0]));
            if (userInfo.length == 2) {
                appendParam(query, "password", decode(userInfo[1]));
            }
        }
        if (query.length() > 0) {
            jdbc.append('?').append(query);
        }
        return jdbc.toString();
    }

    private static void appendParam(StringBuilder query, String name, String value) {
        if (query.length() > 0) {
            query.append('&');
        }
        query.append(name).append('=').append(java.net.URLEncoder.encode(value, StandardCharsets.UTF_8));
    }

    private static String decode(String value) {
        return URLDecoder.decode(value, StandardCharsets.UTF_8);
    }
}
