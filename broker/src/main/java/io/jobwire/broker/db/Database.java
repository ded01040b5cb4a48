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
import java.util.Set;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The broker's PostgreSQL: two connection pools for short transactions, dedicated connections for
 * LISTEN, and the versioned schema migrations, applied at start (Flyway takes a lock, so brokers
 * starting together migrate once).
 *
 * <p>The keyed pool serves the hot statements (submit, claim, worker writes), which reach jobs through
 * an index by key. Its sessions plan each statement once and keep that generic plan (planning per
 * batch cost more than running a small one), so the plan must be right whatever the statistics said
 * when it was made: every job is found by primary key or through jobs_claimable (the statements are
 * written so), a batch meets its rows in a hash or merge join (a nested loop planned for "one row"
 * would rerun the batch for every row: quadratic), and no plan has a sequential or bitmap scan. A
 * queue table can grow from empty to millions of rows between two ANALYZEs, and bitmap scans cannot
 * mark the dead index entries a queue leaves behind, so every later scan would pay for them again.
 * Setting this once per connection costs nothing per statement. The general pool serves everything
 * else (reads, statistics, maintenance), where a sequential scan is often the right plan.
 *
 * <p>Every connection of both pools runs with {@code jit = off}, whatever the server's default. Most
 * distribution builds of PostgreSQL have LLVM and {@code jit = on}; the keyed pool's settings cost a
 * disabled plan node near 1e10, far above {@code jit_above_cost}, so every claim was compiled afresh
 * (0.3-0.7 s each: the broker fell from thousands of jobs a second to hundreds). Our statements are
 * short and touch few rows; compiling never pays for them, and the general pool's reads are interactive.
 */
public final class Database implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Database.class);
    /** Session settings of every connection the broker opens (see the class comment). */
    public static final String SESSION = "SET jit = off";
    /** Session settings of the keyed pool's connections. */
    public static final String KEYED_SESSION = SESSION + "; SET plan_cache_mode = force_generic_plan; "
            + "SET enable_seqscan = off; SET enable_bitmapscan = off; SET enable_nestloop = off";

    private final String jdbcUrl;
    private final HikariDataSource pool;
    private final HikariDataSource keyedPool;
    private final Jdbi jdbi;
    private final Jdbi keyedJdbi;

    private Database(String jdbcUrl, HikariDataSource pool, HikariDataSource keyedPool) {
        this.jdbcUrl = jdbcUrl;
        this.pool = pool;
        this.keyedPool = keyedPool;
        this.jdbi = Jdbi.create(pool);
        this.keyedJdbi = Jdbi.create(keyedPool);
    }

    /**
     * Opens the pools on {@code url} (a {@code jdbc:postgresql:} URL, or a {@code postgres://} URI as
     * libpq takes it), {@code poolSize} connections in all: a quarter for general work (at least two,
     * which migrations need), the rest (at least one) for the hot statements. Fails fast when the
     * database cannot be reached.
     */
    public static Database connect(String url, int poolSize, Duration connectionTimeout, String applicationName) {
        return connect(url, poolSize, connectionTimeout, applicationName, null);
    }

    /** The same, with the pools' metrics (HikariCP's own) in {@code meterRegistry}, a Micrometer registry. */
    public static Database connect(String url, int poolSize, Duration connectionTimeout, String applicationName,
                                   Object meterRegistry) {
        String jdbcUrl = toJdbcUrl(url);
        int general = Math.max(2, poolSize / 4);
        int keyed = Math.max(1, poolSize - general);
        HikariConfig generalConfig = poolConfig(jdbcUrl, "jobwire-db", general, connectionTimeout, applicationName);
        generalConfig.setMetricRegistry(meterRegistry);
        HikariDataSource pool = new HikariDataSource(generalConfig);
        try {
            HikariConfig keyedConfig = poolConfig(jdbcUrl, "jobwire-db-keyed", keyed, connectionTimeout, applicationName);
            keyedConfig.setMetricRegistry(meterRegistry);
            keyedConfig.setConnectionInitSql(KEYED_SESSION);
            return new Database(jdbcUrl, pool, new HikariDataSource(keyedConfig));
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
    }

    private static HikariConfig poolConfig(String jdbcUrl, String name, int size, Duration connectionTimeout,
                                           String applicationName) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(Math.min(2, size));
        config.setConnectionTimeout(connectionTimeout.toMillis());
        config.setPoolName(name);
        config.setConnectionInitSql(SESSION);
        config.addDataSourceProperty("ApplicationName", applicationName);
        config.addDataSourceProperty("tcpKeepAlive", "true");
        return config;
    }

    /** Attempts of the migrations that a deadlock or a lock timeout ended (each rolled back whole). */
    private static final int MIGRATION_ATTEMPTS = 5;
    /** A deadlock, a lock timeout: SQL states that end a migration another session's locks met. */
    private static final Set<String> LOCK_FAILURES = Set.of("40P01", "55P03");

    /**
     * Applies pending migrations from {@code db/migration}. Each runs in a transaction of its own, and a
     * migration that ends in a deadlock or a lock timeout is tried again (up to five times, a little later
     * each time): a reader of the tables (a dashboard, someone's {@code psql}) whose locks met the
     * migration's in the other order made PostgreSQL end one of the two, and the broker must not fail to
     * start because it was the one chosen. Any other failure ends the start at once.
     */
    public void migrate() {
        Flyway flyway = Flyway.configure()
                .dataSource(pool)
                .locations("classpath:db/migration")
                .load();
        for (int attempt = 1; ; attempt++) {
            try {
                flyway.migrate();
                return;
            } catch (RuntimeException e) {
                String state = lockFailure(e);
                if (state == null || attempt == MIGRATION_ATTEMPTS) {
                    throw e;
                }
                log.warn("a migration met another session's locks (SQL state {}); trying again ({} of {})", state,
                        attempt + 1, MIGRATION_ATTEMPTS);
                try {
                    Thread.sleep(200L * attempt);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    /** The SQL state of a deadlock or lock timeout in {@code e}'s causes, else null. */
    private static String lockFailure(Throwable e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLException sql && LOCK_FAILURES.contains(sql.getSQLState())) {
                return sql.getSQLState();
            }
        }
        return null;
    }

    /** The general pool. */
    public Jdbi jdbi() {
        return jdbi;
    }

    /** The pool for statements that reach jobs by key (see the class comment). */
    public Jdbi keyedJdbi() {
        return keyedJdbi;
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
        keyedPool.close();
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
