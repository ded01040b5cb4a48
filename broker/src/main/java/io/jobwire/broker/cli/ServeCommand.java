package io.jobwire.broker.cli;

import io.jobwire.broker.Broker;
import io.jobwire.broker.BrokerConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jobwire serve}: runs the broker until SIGTERM or Ctrl-C, then shuts it down cleanly. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Run the broker. Without --database-url it starts an embedded PostgreSQL in --data-dir.")
final class ServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--host", description = "Address to listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 for all).")
    String host = BrokerConfig.DEFAULT_HOST;

    @Option(names = "--port", description = "gRPC port (default: ${DEFAULT-VALUE}).")
    int port = BrokerConfig.DEFAULT_PORT;

    @Option(names = "--data-dir", description = "Embedded PostgreSQL data directory (default: ${DEFAULT-VALUE}).")
    Path dataDir = BrokerConfig.DEFAULT_DATA_DIR;

    @Option(names = "--database-url", defaultValue = "${env:JOBWIRE_DATABASE_URL}",
            description = "External PostgreSQL (jdbc:postgresql://... or postgres://user:pw@host/db); "
                    + "default: $JOBWIRE_DATABASE_URL, else the embedded one.")
    String databaseUrl;

    @Option(names = "--max-payload-bytes", description = "Largest payload or result (default: ${DEFAULT-VALUE}).")
    int maxPayloadBytes = BrokerConfig.DEFAULT_MAX_PAYLOAD_BYTES;

    @Option(names = "--default-lease", description = "Lease of jobs submitted without one (default: 30s).")
    Duration defaultLease = BrokerConfig.DEFAULT_LEASE;

    @Option(names = "--retention", description = "How long finished jobs are kept before they are deleted, "
            + "a seventh of it at a time (default: 7d; 0s keeps them forever).")
    Duration retention = BrokerConfig.DEFAULT_RETENTION;

    @Option(names = "--reaper-interval", description = "How often expired leases are taken back (default: 1s).")
    Duration reaperInterval = BrokerConfig.DEFAULT_REAPER_INTERVAL;

    @Option(names = "--poll-interval", description = "Longest wait before looking for due jobs unprompted (default: 1s).")
    Duration pollInterval = BrokerConfig.DEFAULT_POLL_INTERVAL;

    @Option(names = "--drain-timeout", description = "Time workers and calls get to finish at shutdown (default: 10s).")
    Duration drainTimeout = BrokerConfig.DEFAULT_DRAIN_TIMEOUT;

    @Option(names = "--db-pool-size", description = "Database connections: a quarter (at least 2) for reads and "
            + "maintenance, the rest for submits, claims and worker writes (default: ${DEFAULT-VALUE}).")
    int poolSize = BrokerConfig.DEFAULT_POOL_SIZE;

    @Option(names = "--tokens-file", description = "Accepted bearer tokens (see 'jobwire token'). Without tokens "
            + "the broker runs open, which is only allowed on a loopback --host.")
    Path tokensFile;

    @Option(names = "--tokens", defaultValue = "${env:JOBWIRE_TOKENS}", hidden = true,
            description = "Token lines inline, separated by ';' (default: $JOBWIRE_TOKENS).")
    String tokens;

    @Option(names = "--tls-cert", description = "PEM certificate chain: serve TLS (with --tls-key).")
    Path tlsCert;

    @Option(names = "--tls-key", description = "PEM private key of --tls-cert.")
    Path tlsKey;

    @Option(names = "--tls-client-ca", description = "PEM CA that client certificates must chain to (mutual TLS).")
    Path tlsClientCa;

    @Option(names = "--max-watches", description = "Watch streams one principal may hold open (default: ${DEFAULT-VALUE}).")
    int maxWatches = BrokerConfig.DEFAULT_MAX_WATCHES_PER_PRINCIPAL;

    @Option(names = "--strict-types", description = "Take submits only of job types an admin registered "
            + "(jobwire types register); others are refused with INVALID_ARGUMENT.")
    boolean strictTypes;

    @Option(names = "--http-port", description = "HTTP port of the dashboard, /metrics, /healthz and /readyz, on "
            + "--host; 0 for none (default: --port plus 10, i.e. 7080).")
    Integer httpPort;

    @Option(names = "--log-format", paramLabel = "text|json", defaultValue = "text",
            description = "text (default) or json: one JSON object per line, with job_id, job_type and owner as "
                    + "fields where they apply.")
    String logFormat;

    @Option(names = "--callback-allow", paramLabel = "CIDR",
            description = "Let callbacks reach this address range although it is internal (loopback, private, "
                    + "link-local, ...), e.g. 10.1.0.0/16; repeat for more.")
    List<String> callbackAllow = new ArrayList<>();

    @Option(names = "--callback-allow-http", description = "Allow plain http callback URLs (default: https only).")
    boolean callbackAllowHttp;

    @Option(names = "--callback-retry-for", description = "How long a failing callback is tried again (default: 24h).")
    Duration callbackRetryFor = Duration.ofHours(24);

    @Option(names = "--callback-concurrency", description = "Callback requests open at once (default: ${DEFAULT-VALUE}).")
    int callbackConcurrency = 64;

    @Option(names = "--callback-claim-timeout", hidden = true,
            description = "How long a broker holds a callback delivery it took (default: 60s, at least 20s).")
    Duration callbackClaimTimeout = Duration.ofSeconds(60);

    @Option(names = "--broker-id", description = "This broker's name in Stats (default: host, pid and a random suffix).")
    String brokerId;

    BrokerConfig config() {
        return BrokerConfig.builder()
                .host(host)
                .port(port)
                .dataDir(dataDir)
                .databaseUrl(databaseUrl)
                .maxPayloadBytes(maxPayloadBytes)
                .defaultLease(defaultLease)
                .retention(retention)
                .reaperInterval(reaperInterval)
                .pollInterval(pollInterval)
                .drainTimeout(drainTimeout)
                .poolSize(poolSize)
                .tokensFile(tokensFile)
                .tokens(tokens)
                .tlsCert(tlsCert)
                .tlsKey(tlsKey)
                .tlsClientCa(tlsClientCa)
                .maxWatchesPerPrincipal(maxWatches)
                .strictTypes(strictTypes)
                .httpPort(httpPort)
                .callbackAllow(callbackAllow)
                .callbackAllowHttp(callbackAllowHttp)
                .callbackRetryFor(callbackRetryFor)
                .callbackConcurrency(callbackConcurrency)
                .callbackClaimTimeout(callbackClaimTimeout)
                .brokerId(brokerId)
                .build();
    }

    @Override
    public Integer call() throws InterruptedException {
        BrokerConfig config;
        try {
            LogFormat.use(logFormat);
            config = config();
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("jobwire serve: " + e.getMessage());
            return ExitCodes.USAGE;
        }
        // Not a static field: every command's class is loaded to parse a command line, and a client command
        // need not pay for the logging set-up.
        Logger log = LoggerFactory.getLogger(ServeCommand.class);
        Broker broker;
        try {
            broker = Broker.builder(config).start();
        } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
            // a flag's value is wrong, or a file it names cannot be read
            spec.commandLine().getErr().println("jobwire serve: " + withCause(e));
            return ExitCodes.USAGE;
        } catch (RuntimeException e) {
            // the port is taken, the database cannot be reached, ...: one line; the trace only when asked for
            spec.commandLine().getErr().println("jobwire serve: the broker could not start: " + withCause(e));
            log.debug("start failed", e);
            return 1;
        }
        AtomicBoolean stopping = new AtomicBoolean();
        boolean handled = TerminationSignals.install(() -> {
            if (stopping.compareAndSet(false, true)) {
                Thread stopper = new Thread(broker::close, "jobwire-shutdown");
                stopper.start();
            } else {
                log.warn("second termination signal: exiting without waiting for the drain");
                Runtime.getRuntime().halt(130);
            }
        });
        if (!handled) {
            Runtime.getRuntime().addShutdownHook(new Thread(broker::close, "jobwire-shutdown"));
        }
        broker.awaitTermination();
        broker.close();
        return 0;
    }

    /** The message, and its cause's in brackets: "cannot read tokens.txt (No such file)". */
    private static String withCause(RuntimeException e) {
        Throwable cause = e.getCause();
        return e.getMessage() + (cause == null || cause.getMessage() == null ? "" : " (" + cause.getMessage() + ")");
    }
}
