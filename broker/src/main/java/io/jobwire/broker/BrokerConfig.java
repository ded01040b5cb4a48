package io.jobwire.broker;

import io.jobwire.broker.store.RetryDefaults;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.UUID;

/**
 * Everything an operator can set, validated once at start; each error names its command-line flag.
 *
 * @param host              address to bind ({@code --host})
 * @param port              gRPC port, 0 for any free port ({@code --port})
 * @param dataDir           where the embedded PostgreSQL keeps its data ({@code --data-dir})
 * @param databaseUrl       an external PostgreSQL instead of the embedded one, or null ({@code --database-url})
 * @param maxPayloadBytes   largest payload or result accepted ({@code --max-payload-bytes})
 * @param defaultLease      lease of jobs submitted without one ({@code --default-lease})
 * @param reaperInterval    how often expired leases are taken back ({@code --reaper-interval})
 * @param pollInterval      how often the dispatcher looks for due jobs without being woken ({@code --poll-interval})
 * @param presenceInterval  how often worker sessions are recorded for Stats ({@code --presence-interval})
 * @param drainTimeout      how long a shutting-down broker lets workers and calls finish ({@code --drain-timeout})
 * @param retry             backoff for jobs without their own retry policy
 * @param poolSize          database connections ({@code --db-pool-size})
 * @param brokerId          this instance's name in Stats and notifications ({@code --broker-id})
 * @param maxWatchBacklog   distinct jobs a filter watch may fall behind by before it is ended
 * @param tokensFile        file of accepted bearer tokens (hashed), or null ({@code --tokens-file})
 * @param tokens            token lines given inline, e.g. from {@code JOBWIRE_TOKENS}, or null
 * @param tlsCert           PEM certificate chain to serve TLS with, or null for plaintext ({@code --tls-cert})
 * @param tlsKey            PEM private key of that certificate ({@code --tls-key})
 * @param tlsClientCa       PEM CA that client certificates must chain to: mutual TLS, or null ({@code --tls-client-ca})
 * @param maxWatchesPerPrincipal  Watch streams one principal may hold open at once ({@code --max-watches})
 * @param retention         how long finished jobs are kept before they are deleted; zero keeps them forever
 *                          ({@code --retention})
 */
public record BrokerConfig(
        String host,
        int port,
        Path dataDir,
        String databaseUrl,
        int maxPayloadBytes,
        Duration defaultLease,
        Duration reaperInterval,
        Duration pollInterval,
        Duration presenceInterval,
        Duration drainTimeout,
        RetryDefaults retry,
        int poolSize,
        String brokerId,
        int maxWatchBacklog,
        Path tokensFile,
        String tokens,
        Path tlsCert,
        Path tlsKey,
        Path tlsClientCa,
        int maxWatchesPerPrincipal,
        Duration retention) {

    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 7070;
    public static final Path DEFAULT_DATA_DIR = Path.of("jobwire-data");
    public static final int DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
    public static final Duration DEFAULT_LEASE = Duration.ofSeconds(30);
    public static final Duration DEFAULT_REAPER_INTERVAL = Duration.ofSeconds(1);
    public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(1);
    public static final Duration DEFAULT_PRESENCE_INTERVAL = Duration.ofSeconds(2);
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(10);
    public static final int DEFAULT_POOL_SIZE = 16;
    public static final int DEFAULT_MAX_WATCH_BACKLOG = 10_000;
    public static final int DEFAULT_MAX_WATCHES_PER_PRINCIPAL = 1_000;
    public static final Duration DEFAULT_RETENTION = Duration.ofDays(7);

    public BrokerConfig {
        Objects.requireNonNull(host, "--host");
        Objects.requireNonNull(dataDir, "--data-dir");
        Objects.requireNonNull(retry, "retry");
        require(port >= 0 && port <= 65535, "--port must be between 0 and 65535, got " + port);
        require(maxPayloadBytes >= 1024 && maxPayloadBytes <= 64 * 1024 * 1024,
                "--max-payload-bytes must be between 1024 and 67108864, got " + maxPayloadBytes);
        requirePositive(defaultLease, "--default-lease");
        require(defaultLease.compareTo(Duration.ofSeconds(1)) >= 0 && defaultLease.compareTo(Duration.ofHours(24)) <= 0,
                "--default-lease must be between 1s and 24h, got " + defaultLease);
        requirePositive(reaperInterval, "--reaper-interval");
        requirePositive(pollInterval, "--poll-interval");
        requirePositive(presenceInterval, "--presence-interval");
        require(drainTimeout != null && !drainTimeout.isNegative(), "--drain-timeout must not be negative");
        require(poolSize >= 2 && poolSize <= 1000, "--db-pool-size must be between 2 and 1000, got " + poolSize);
        require(brokerId != null && !brokerId.isBlank() && brokerId.indexOf('|') < 0 && brokerId.length() <= 128,
                "--broker-id must be 1-128 characters without '|'");
        require(maxWatchBacklog >= 1, "maxWatchBacklog must be positive");
        require(retention != null && !retention.isNegative(), "--retention must not be negative");
        require(maxWatchesPerPrincipal >= 1, "--max-watches must be positive, got " + maxWatchesPerPrincipal);
    }

    /** The defaults: embedded PostgreSQL in ./jobwire-data, port 7070 on loopback. */
    public static BrokerConfig defaults() {
        return new BrokerConfig(DEFAULT_HOST, DEFAULT_PORT, DEFAULT_DATA_DIR, null, DEFAULT_MAX_PAYLOAD_BYTES,
                DEFAULT_LEASE, DEFAULT_REAPER_INTERVAL, DEFAULT_POLL_INTERVAL, DEFAULT_PRESENCE_INTERVAL,
                DEFAULT_DRAIN_TIMEOUT, RetryDefaults.STANDARD, DEFAULT_POOL_SIZE, defaultBrokerId(),
                DEFAULT_MAX_WATCH_BACKLOG, null, null, null, null, null, DEFAULT_MAX_WATCHES_PER_PRINCIPAL, DEFAULT_RETENTION);
    }

    public BrokerConfig withHost(String value) {
        return new BrokerConfig(value, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withPort(int value) {
        return new BrokerConfig(host, value, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withDataDir(Path value) {
        return new BrokerConfig(host, port, value, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withDatabaseUrl(String value) {
        return new BrokerConfig(host, port, dataDir, value, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withMaxPayloadBytes(int value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, value, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withDefaultLease(Duration value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, value, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withReaperInterval(Duration value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, value,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withPollInterval(Duration value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                value, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog, tokensFile,
                tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withPresenceInterval(Duration value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, value, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog, tokensFile, tokens,
                tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withDrainTimeout(Duration value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, value, retry, poolSize, brokerId, maxWatchBacklog, tokensFile,
                tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withRetry(RetryDefaults value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, value, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withPoolSize(int value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, value, brokerId, maxWatchBacklog, tokensFile,
                tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withBrokerId(String value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, value, maxWatchBacklog, tokensFile,
                tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withMaxWatchBacklog(int value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, value, tokensFile, tokens,
                tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withTokensFile(Path value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog, value,
                tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withTokens(String value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, value, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withTlsCert(Path value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, value, tlsKey, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withTlsKey(Path value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, value, tlsClientCa, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withTlsClientCa(Path value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, tlsKey, value, maxWatchesPerPrincipal, retention);
    }

    public BrokerConfig withMaxWatchesPerPrincipal(int value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, tlsKey, tlsClientCa, value, retention);
    }

    public BrokerConfig withRetention(Duration value) {
        return new BrokerConfig(host, port, dataDir, databaseUrl, maxPayloadBytes, defaultLease, reaperInterval,
                pollInterval, presenceInterval, drainTimeout, retry, poolSize, brokerId, maxWatchBacklog,
                tokensFile, tokens, tlsCert, tlsKey, tlsClientCa, maxWatchesPerPrincipal, value);
    }

    /** host-pid-random: unique per process, readable in Stats. */
    static String defaultBrokerId() {
        String runtime = ManagementFactory.getRuntimeMXBean().getName();
        return runtime.replace('|', '-') + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }

    private static void requirePositive(Duration duration, String flag) {
        require(duration != null && !duration.isNegative() && !duration.isZero(), flag + " must be positive");
    }
}
