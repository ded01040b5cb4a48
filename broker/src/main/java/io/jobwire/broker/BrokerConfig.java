package io.jobwire.broker;

import io.jobwire.broker.callbacks.AddressRange;
import io.jobwire.broker.store.RetryDefaults;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * Everything an operator can set, in groups, validated once when built; each error names its
 * command-line flag. Built by name:
 *
 * <pre>{@code
 * BrokerConfig config = BrokerConfig.builder().port(0).databaseUrl(url).reaperInterval(Duration.ofMillis(200)).build();
 * }</pre>
 *
 * @param listen   where and how the gRPC server listens
 * @param database which PostgreSQL, how many connections, how long finished jobs are kept
 * @param timing   leases and the intervals of the background work
 * @param limits   sizes and counts a caller may not exceed
 * @param auth     the accepted tokens; none: open, which only a loopback address allows
 * @param callbacks where callbacks may go and how they are retried
 * @param retry    backoff for jobs without their own retry policy
 * @param brokerId this instance's name in Stats and notifications ({@code --broker-id})
 */
public record BrokerConfig(Listen listen, Database database, Timing timing, Limits limits, Auth auth,
                           Callbacks callbacks, RetryDefaults retry, String brokerId) {

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
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(database, "database");
        Objects.requireNonNull(timing, "timing");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(auth, "auth");
        Objects.requireNonNull(callbacks, "callbacks");
        Objects.requireNonNull(retry, "retry");
        require(brokerId != null && !brokerId.isBlank() && brokerId.indexOf('|') < 0 && brokerId.length() <= 128,
                "--broker-id must be 1-128 characters without '|'");
    }

    /**
     * @param host        address to bind ({@code --host})
     * @param port        gRPC port, 0 for any free port ({@code --port})
     * @param tlsCert     PEM certificate chain to serve TLS with, or null for plaintext ({@code --tls-cert})
     * @param tlsKey      PEM private key of that certificate ({@code --tls-key})
     * @param tlsClientCa PEM CA that client certificates must chain to: mutual TLS, or null ({@code --tls-client-ca})
     * @param httpPort    the HTTP port of /metrics, /healthz and /readyz on the same host, 0 for none
     *                    ({@code --http-port}; by default the gRPC port plus 10: 7080 next to 7070)
     */
    public record Listen(String host, int port, Path tlsCert, Path tlsKey, Path tlsClientCa, int httpPort) {
        public Listen {
            Objects.requireNonNull(host, "--host");
            require(port >= 0 && port <= 65535, "--port must be between 0 and 65535, got " + port);
            require(httpPort >= 0 && httpPort <= 65535, "--http-port must be between 0 (none) and 65535, got " + httpPort);
            require(httpPort == 0 || httpPort != port, "--http-port must differ from --port");
        }
    }

    /**
     * @param dataDir   where the embedded PostgreSQL keeps its data ({@code --data-dir})
     * @param url       an external PostgreSQL instead of the embedded one, or null ({@code --database-url})
     * @param poolSize  database connections ({@code --db-pool-size})
     * @param retention how long finished jobs are kept; zero keeps them forever ({@code --retention})
     */
    public record Database(Path dataDir, String url, int poolSize, Duration retention) {
        public Database {
            Objects.requireNonNull(dataDir, "--data-dir");
            require(poolSize >= 2 && poolSize <= 1000, "--db-pool-size must be between 2 and 1000, got " + poolSize);
            require(retention != null && !retention.isNegative(), "--retention must not be negative");
        }
    }

    /**
     * @param defaultLease     lease of jobs submitted without one ({@code --default-lease})
     * @param reaperInterval   how often expired leases are taken back ({@code --reaper-interval})
     * @param pollInterval     how often the dispatcher looks for due jobs without being woken ({@code --poll-interval})
     * @param presenceInterval how often worker sessions are recorded for Stats ({@code --presence-interval})
     * @param drainTimeout     how long a shutting-down broker lets workers and calls finish ({@code --drain-timeout})
     */
    public record Timing(Duration defaultLease, Duration reaperInterval, Duration pollInterval, Duration presenceInterval,
                         Duration drainTimeout) {
        public Timing {
            requirePositive(defaultLease, "--default-lease");
            require(defaultLease.compareTo(Duration.ofSeconds(1)) >= 0 && defaultLease.compareTo(Duration.ofHours(24)) <= 0,
                    "--default-lease must be between 1s and 24h, got " + defaultLease);
            requirePositive(reaperInterval, "--reaper-interval");
            requirePositive(pollInterval, "--poll-interval");
            requirePositive(presenceInterval, "--presence-interval");
            require(drainTimeout != null && !drainTimeout.isNegative(), "--drain-timeout must not be negative");
        }
    }

    /**
     * @param maxPayloadBytes        largest payload or result accepted ({@code --max-payload-bytes})
     * @param maxWatchBacklog        distinct jobs a filter watch may fall behind by before it is ended
     * @param maxWatchesPerPrincipal Watch streams one principal may hold open at once ({@code --max-watches})
     * @param strictTypes            only registered job types may be submitted ({@code --strict-types})
     */
    public record Limits(int maxPayloadBytes, int maxWatchBacklog, int maxWatchesPerPrincipal, boolean strictTypes) {
        public Limits {
            require(maxPayloadBytes >= 1024 && maxPayloadBytes <= 64 * 1024 * 1024,
                    "--max-payload-bytes must be between 1024 and 67108864, got " + maxPayloadBytes);
            require(maxWatchBacklog >= 1, "maxWatchBacklog must be positive");
            require(maxWatchesPerPrincipal >= 1, "--max-watches must be positive, got " + maxWatchesPerPrincipal);
        }
    }

    /**
     * @param tokensFile file of accepted bearer tokens (hashed), or null ({@code --tokens-file})
     * @param tokens     token lines given inline, e.g. from {@code JOBWIRE_TOKENS}, or null
     */
    public record Auth(Path tokensFile, String tokens) {
    }

    /**
     * @param allow        address ranges callbacks may reach although they are internal ({@code --callback-allow})
     * @param allowHttp    plain http callback URLs are allowed ({@code --callback-allow-http})
     * @param retryFor     how long after its event a delivery is tried again ({@code --callback-retry-for})
     * @param retryInitial the delay after a delivery's first failed attempt, doubling up to an hour
     * @param maxInFlight  callback requests open at once on this broker ({@code --callback-concurrency})
     * @param pollInterval how often due deliveries are looked for
     * @param claimTimeout how long a broker holds a delivery it took; after it, another may take it
     */
    public record Callbacks(List<AddressRange> allow, boolean allowHttp, Duration retryFor, Duration retryInitial,
                            int maxInFlight, Duration pollInterval, Duration claimTimeout) {
        public Callbacks {
            allow = List.copyOf(allow);
            requirePositive(retryFor, "--callback-retry-for");
            requirePositive(retryInitial, "the callback retry delay");
            require(maxInFlight >= 1 && maxInFlight <= 10_000, "--callback-concurrency must be 1 to 10000, got " + maxInFlight);
            requirePositive(pollInterval, "the callback poll interval");
            require(claimTimeout != null && claimTimeout.compareTo(Duration.ofSeconds(20)) >= 0,
                    "the callback claim timeout must be at least 20s (longer than a request may take)");
        }
    }

    /** The defaults: embedded PostgreSQL in ./jobwire-data, port 7070 on loopback. */
    public static BrokerConfig defaults() {
        return builder().build();
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** Each setting by the name of its flag; {@link #build} checks them all. */
    public static final class Builder {
        private String host = DEFAULT_HOST;
        private int port = DEFAULT_PORT;
        private Integer httpPort;
        private Path tlsCert;
        private Path tlsKey;
        private Path tlsClientCa;
        private Path dataDir = DEFAULT_DATA_DIR;
        private String databaseUrl;
        private int poolSize = DEFAULT_POOL_SIZE;
        private Duration retention = DEFAULT_RETENTION;
        private Duration defaultLease = DEFAULT_LEASE;
        private Duration reaperInterval = DEFAULT_REAPER_INTERVAL;
        private Duration pollInterval = DEFAULT_POLL_INTERVAL;
        private Duration presenceInterval = DEFAULT_PRESENCE_INTERVAL;
        private Duration drainTimeout = DEFAULT_DRAIN_TIMEOUT;
        private int maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES;
        private int maxWatchBacklog = DEFAULT_MAX_WATCH_BACKLOG;
        private int maxWatchesPerPrincipal = DEFAULT_MAX_WATCHES_PER_PRINCIPAL;
        private boolean strictTypes;
        private Path tokensFile;
        private String tokens;
        private RetryDefaults retry = RetryDefaults.STANDARD;
        private String brokerId;
        private List<AddressRange> callbackAllow = List.of();
        private boolean callbackAllowHttp;
        private Duration callbackRetryFor = Duration.ofHours(24);
        private Duration callbackRetryInitial = Duration.ofSeconds(5);
        private int callbackConcurrency = 64;
        private Duration callbackPollInterval = Duration.ofMillis(250);
        private Duration callbackClaimTimeout = Duration.ofSeconds(60);

        private Builder() {
        }

        public Builder host(String value) {
            host = value;
            return this;
        }

        /** 0: none. Unset: the gRPC port plus 10 (none when the gRPC port is 0, as in tests). */
        public Builder httpPort(Integer value) {
            httpPort = value;
            return this;
        }

        public Builder port(int value) {
            port = value;
            return this;
        }

        public Builder tlsCert(Path value) {
            tlsCert = value;
            return this;
        }

        public Builder tlsKey(Path value) {
            tlsKey = value;
            return this;
        }

        public Builder tlsClientCa(Path value) {
            tlsClientCa = value;
            return this;
        }

        public Builder dataDir(Path value) {
            dataDir = value;
            return this;
        }

        /** Null or blank: the embedded PostgreSQL. */
        public Builder databaseUrl(String value) {
            databaseUrl = value == null || value.isBlank() ? null : value;
            return this;
        }

        public Builder poolSize(int value) {
            poolSize = value;
            return this;
        }

        public Builder retention(Duration value) {
            retention = value;
            return this;
        }

        public Builder defaultLease(Duration value) {
            defaultLease = value;
            return this;
        }

        public Builder reaperInterval(Duration value) {
            reaperInterval = value;
            return this;
        }

        public Builder pollInterval(Duration value) {
            pollInterval = value;
            return this;
        }

        public Builder presenceInterval(Duration value) {
            presenceInterval = value;
            return this;
        }

        public Builder drainTimeout(Duration value) {
            drainTimeout = value;
            return this;
        }

        public Builder maxPayloadBytes(int value) {
            maxPayloadBytes = value;
            return this;
        }

        public Builder maxWatchBacklog(int value) {
            maxWatchBacklog = value;
            return this;
        }

        public Builder maxWatchesPerPrincipal(int value) {
            maxWatchesPerPrincipal = value;
            return this;
        }

        public Builder strictTypes(boolean value) {
            strictTypes = value;
            return this;
        }

        public Builder tokensFile(Path value) {
            tokensFile = value;
            return this;
        }

        public Builder tokens(String value) {
            tokens = value;
            return this;
        }

        public Builder retry(RetryDefaults value) {
            retry = value;
            return this;
        }

        /** Address ranges in CIDR form ({@code 10.0.0.0/8}, {@code fd00::/8}) or single addresses. */
        public Builder callbackAllow(List<String> value) {
            List<AddressRange> ranges = new java.util.ArrayList<>();
            for (String range : value) {
                try {
                    ranges.add(AddressRange.parse(range));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--callback-allow: " + e.getMessage());
                }
            }
            callbackAllow = ranges;
            return this;
        }

        public Builder callbackAllowHttp(boolean value) {
            callbackAllowHttp = value;
            return this;
        }

        public Builder callbackRetryFor(Duration value) {
            callbackRetryFor = value;
            return this;
        }

        public Builder callbackRetryInitial(Duration value) {
            callbackRetryInitial = value;
            return this;
        }

        public Builder callbackConcurrency(int value) {
            callbackConcurrency = value;
            return this;
        }

        public Builder callbackPollInterval(Duration value) {
            callbackPollInterval = value;
            return this;
        }

        public Builder callbackClaimTimeout(Duration value) {
            callbackClaimTimeout = value;
            return this;
        }

        /** Null: host, pid and a random suffix. */
        public Builder brokerId(String value) {
            brokerId = value;
            return this;
        }

        public BrokerConfig build() {
            return new BrokerConfig(
                    new Listen(host, port, tlsCert, tlsKey, tlsClientCa,
                            httpPort != null ? httpPort : port == 0 || port > 65525 ? 0 : port + 10),
                    new Database(dataDir, databaseUrl, poolSize, retention),
                    new Timing(defaultLease, reaperInterval, pollInterval, presenceInterval, drainTimeout),
                    new Limits(maxPayloadBytes, maxWatchBacklog, maxWatchesPerPrincipal, strictTypes),
                    new Auth(tokensFile, tokens),
                    new Callbacks(callbackAllow, callbackAllowHttp, callbackRetryFor, callbackRetryInitial,
                            callbackConcurrency, callbackPollInterval, callbackClaimTimeout),
                    retry,
                    brokerId == null ? defaultBrokerId() : brokerId);
        }
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
