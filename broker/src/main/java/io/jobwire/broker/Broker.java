package io.jobwire.broker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.util.concurrent.ThreadFactoryBuilder;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServerBuilder;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.broker.api.InlineCalls;
import io.jobwire.broker.api.Services;
import io.jobwire.broker.convert.Statuses;
import io.jobwire.broker.api.StrictParsing;
import io.jobwire.broker.api.CallMetrics;
import io.jobwire.broker.auth.AuthInterceptor;
import io.jobwire.broker.http.HttpEndpoints;
import io.jobwire.broker.store.ScheduleStore;
import io.jobwire.broker.auth.Principal;
import io.jobwire.broker.auth.Role;
import io.jobwire.broker.tracing.Tracing;
import io.jobwire.broker.http.PemTls;
import io.jobwire.broker.dashboard.Dashboard;
import io.jobwire.broker.dashboard.Timeline;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.jobwire.broker.metrics.BrokerMetrics;
import io.jobwire.broker.store.QueueCounts;
import io.jobwire.broker.callbacks.CallbackDeliverer;
import io.jobwire.broker.callbacks.CallbackPolicy;
import io.jobwire.broker.store.CallbackStore;
import io.jobwire.broker.auth.JobTokens;
import io.jobwire.broker.auth.TokenStore;
import io.jobwire.broker.db.Database;
import io.jobwire.broker.db.EmbeddedPostgresServer;
import io.jobwire.broker.dispatch.Admitter;
import io.jobwire.broker.dispatch.BrokerCancels;
import io.jobwire.broker.dispatch.Dispatcher;
import io.jobwire.broker.dispatch.SessionPresence;
import io.jobwire.broker.dispatch.SessionRegistry;
import io.jobwire.broker.events.ChangeAnnouncer;
import io.jobwire.broker.events.ChangeBus;
import io.jobwire.broker.events.PgChangeListener;
import io.jobwire.broker.maintenance.Maintenance;
import io.jobwire.broker.maintenance.Reaper;
import io.jobwire.broker.dispatch.QuotaRules;
import io.jobwire.broker.store.ConcurrencyKeys;
import io.jobwire.broker.store.RateLimits;
import io.jobwire.broker.dispatch.RateAdmitter;
import io.jobwire.broker.dispatch.DependencyResolver;
import io.jobwire.broker.store.PauseStore;
import io.jobwire.broker.store.QuotaStore;
import io.jobwire.broker.store.TypeRegistrations;
import io.jobwire.broker.types.TypeRegistry;
import io.jobwire.broker.store.PassTurns;
import io.jobwire.broker.store.GroupWrites;
import io.jobwire.broker.store.Housekeeping;
import io.jobwire.broker.store.HorizonWatch;
import io.jobwire.broker.store.Ring;
import io.jobwire.broker.store.JobQueries;
import io.jobwire.broker.store.JobStore;
import io.jobwire.broker.store.RegistryStore;
import io.jobwire.broker.watch.WatchHub;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running Jobwire broker: the gRPC server, its database, and the background work (dispatching,
 * reaping expired leases, recording worker sessions, listening to other brokers).
 *
 * <pre>{@code
 * try (Broker broker = Broker.builder(BrokerConfig.builder().port(7070).build()).start()) {
 *     broker.awaitTermination();
 * }
 * }</pre>
 */
public final class Broker implements AutoCloseable {
    /** How often this broker shares where its claims of each fair type are (see FairClock). */
    private static final Duration FAIR_CLOCK_INTERVAL = Duration.ofMillis(100);
    private static final Logger log = LoggerFactory.getLogger(Broker.class);
    private static final Duration DB_CONNECTION_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration WATCH_RESYNC_INTERVAL = Duration.ofSeconds(5);
    private static final int STALE_PRESENCE_FACTOR = 5;
    private static final int MAX_METADATA_BYTES = 16 * 1024;
    private static final int MAX_CALLS_PER_CONNECTION = 1000;
    /**
     * Submits that may wait for the database, in jobs of the largest payload allowed: 64 MiB with the
     * default limit, about a hundred thousand small jobs (seconds of the database's work).
     */
    private static final long WAITING_SUBMITS_PER_PAYLOAD_LIMIT = 64;
    /**
     * How long a worker may leave what the broker sent it unread before its stream is ended (its leases,
     * which it cannot renew meanwhile, are taken back when they expire).
     */
    private static final Duration STALLED_WORKER_LIMIT = Duration.ofMinutes(1);
    /** Worker writes of one kind applied at once (one, as for submits: see Dispatcher.SUBMIT_WRITERS). */
    private static final int COMMIT_WRITERS = 1;
    /** Retention pruning and statistics refresh. */
    private static final Duration HOUSEKEEPING_INTERVAL = Duration.ofSeconds(10);
    /** How often a broker looks for concurrency and rate keys' jobs that became due (delayed) or were left waiting. */
    private static final Duration KEYS_INTERVAL = Duration.ofSeconds(1);
    /** How often one broker looks for waiting jobs whose dependency finished without a resolution (a broker died). */
    private static final Duration STRANDED_INTERVAL = Duration.ofSeconds(2);
    /** Finished callback deliveries removed per pass of their pruning. */
    private static final int PRUNE_BATCH = 10_000;
    /** How often the queue gauges are read from the maintained counts. */
    private static final Duration METRICS_INTERVAL = Duration.ofSeconds(5);
    /** How often each broker looks for a transaction that holds back vacuum (a read of the statistics views). */
    private static final Duration HORIZON_INTERVAL = Duration.ofSeconds(5);
    /** Twice per segment of the ring (one second each), so a segment is emptied soon after it is left. */
    private static final Duration RING_INTERVAL = Duration.ofMillis(500);
    /** How long close waits, after shutdownNow, for the server's streams to end (see close). */
    private static final Duration SERVER_TERMINATION_WAIT = Duration.ofSeconds(30);
    /** Changes waiting to be announced to other brokers before they are replaced by one resync hint. */
    private static final int ANNOUNCE_BACKLOG = 100_000;
    /** Change deliveries (each a commit's changes) that may wait for the listeners before a resync replaces them. */
    private static final int CHANGE_DELIVERIES_WAITING = 10_000;
    /** How soon a type registered through another broker reaches this one. */
    private static final Duration TYPE_REGISTRY_INTERVAL = Duration.ofSeconds(1);
    /** How soon a quota set through another broker is enforced on this one. */
    private static final Duration QUOTAS_INTERVAL = Duration.ofSeconds(1);

    private final BrokerConfig config;
    private final EmbeddedPostgresServer embedded;
    private final Database database;
    private final JobStore store;
    private final GroupWrites writes;
    private final SessionRegistry sessions;
    private final Dispatcher dispatcher;
    private final Admitter admitter;
    private final RateAdmitter rateAdmitter;
    private final DependencyResolver resolver;
    private final WatchHub watches;
    private final PgChangeListener listener;
    private final ChangeBus bus;
    private final TypeRegistry types;
    private final CallbackDeliverer callbacks;
    private final BrokerMetrics metrics;
    private final Tracing tracing;
    private HttpEndpoints http;
    /** The dashboard, its channel and its in-process server: closed after the HTTP port. */
    private final List<AutoCloseable> dashboardParts = new ArrayList<>();
    private final ChangeAnnouncer announcer;
    private final Reaper reaper;
    private final Maintenance maintenance;
    /** Runs the handlers that may block (all but Submit, see {@link InlineCalls}). */
    private final ExecutorService callPool;
    private final HealthStatusManager health = new HealthStatusManager();
    private final Server server;
    private volatile boolean closed;

    private Broker(Builder builder) throws IOException {
        this.config = builder.config;
        String brokerId = config.brokerId();
        TokenStore tokens = tokens(config);
        ServerCredentials credentials = credentials(config);
        this.embedded = config.database().url() == null ? EmbeddedPostgresServer.start(config.database().dataDir()) : null;
        // What a failed start must give back, last taken first.
        Deque<AutoCloseable> taken = new ArrayDeque<>();
        if (embedded != null) {
            taken.push(embedded);
        }
        try {
            String url = embedded != null ? embedded.jdbcUrl() : config.database().url();
            this.metrics = new BrokerMetrics();
            taken.push(metrics);
            this.database = Database.connect(url, config.database().poolSize(), DB_CONNECTION_TIMEOUT, "jobwire " + brokerId,
                    metrics.registry());
            taken.push(database);
            database.migrate();
            ObjectMapper json = new ObjectMapper();
            this.bus = new ChangeBus(CHANGE_DELIVERIES_WAITING);
            taken.push(bus);
            this.listener = new PgChangeListener(database::openDedicated, brokerId, bus);
            taken.push(listener::close);
            this.announcer = new ChangeAnnouncer(database.jdbi(), brokerId, listener::peersListening,
                    listener::peersWatching, ANNOUNCE_BACKLOG);
            taken.push(announcer::close);
            this.store = new JobStore(database.jdbi(), database.keyedJdbi(), json, changes -> {
                bus.publish(changes);
                announcer.publish(changes);
            }, config.retry(), builder.jitter);
            this.tracing = builder.openTelemetry != null ? Tracing.of(builder.openTelemetry) : Tracing.fromEnvironment(System.getenv());
            taken.push(tracing);
            if (tracing.recording()) {
                log.info("recording traces with OpenTelemetry (OTEL_* variables)");
            }
            this.sessions = new SessionRegistry(brokerId, metrics, tracing);
            QuotaStore quotaStore = new QuotaStore(database.jdbi());
            CallbackStore callbackStore = new CallbackStore(database.jdbi(), json);
            BrokerConfig.Callbacks callbackConfig = config.callbacks();
            CallbackPolicy callbackPolicy = new CallbackPolicy(callbackConfig.allow(), callbackConfig.allowHttp());
            QuotaRules quotas = new QuotaRules(quotaStore);
            quotas.refresh();
            this.dispatcher = new Dispatcher(store, sessions, quotas, config.timing().pollInterval(), builder.clock,
                    WAITING_SUBMITS_PER_PAYLOAD_LIMIT * config.limits().maxPayloadBytes());
            taken.push(dispatcher);
            this.writes = new GroupWrites(store, Statuses::isDatabaseUnavailable, COMMIT_WRITERS);
            taken.push(writes);
            writes.observe(metrics::groupCommit);
            dispatcher.observe(metrics::groupCommit);
            JobQueries queries = new JobQueries(database.jdbi(), json);
            RegistryStore registry = new RegistryStore(database.jdbi(), json, brokerId,
                    config.timing().presenceInterval().multipliedBy(STALE_PRESENCE_FACTOR));
            this.types = new TypeRegistry(new TypeRegistrations(database.jdbi()));
            types.refresh();
            this.watches = new WatchHub(queries);
            taken.push(watches::close);
            watches.announceWith(listener::announceWatching);
            listener.watchersFrom(watches::hasWatchers);
            bus.subscribe(dispatcher);
            bus.subscribe(sessions);
            // jobs due now (a resumed queue, jobs of a concurrency key admitted): every broker's dispatcher claims
            Runnable wakeDispatchers = () -> {
                bus.due(true, List.of());
                announcer.dueNow();
            };
            BrokerCancels cancels = new BrokerCancels(store, metrics);
            RateLimits rateLimits = new RateLimits(database.jdbi());
            this.rateAdmitter = new RateAdmitter(rateLimits, wakeDispatchers);
            taken.push(rateAdmitter);
            bus.subscribe(rateAdmitter);
            this.admitter = new Admitter(new ConcurrencyKeys(database.jdbi()), cancels, wakeDispatchers, rateAdmitter::passSoon);
            taken.push(admitter);
            bus.subscribe(admitter);
            this.resolver = new DependencyResolver(store, cancels);
            taken.push(resolver);
            bus.subscribe(resolver);
            bus.subscribe(watches);
            this.reaper = new Reaper(store, metrics);
            Housekeeping housekeeping = new Housekeeping(database.jdbi(), config.database().retention(), builder.clock);
            Ring ring = new Ring(database.jdbi(), builder.clock);
            HorizonWatch horizon = new HorizonWatch(database.jdbi(), builder.clock, HorizonWatch.DEFAULT_WARN_AFTER);
            metrics.oldestTransaction(horizon::oldestSeconds);
            SessionPresence presence = new SessionPresence(sessions, registry, builder.clock, STALLED_WORKER_LIMIT);
            this.maintenance = new Maintenance(2, new PassTurns(database.jdbi(), brokerId)::take, metrics::maintenancePass)
                    .shared(Maintenance.REAPER, config.timing().reaperInterval(), reaper::reapAll)
                    .every(Maintenance.PRESENCE, config.timing().presenceInterval(), presence::refresh)
                    .shared(Maintenance.RING, RING_INTERVAL, ring::clear)
                    .shared(Maintenance.HOUSEKEEPING, HOUSEKEEPING_INTERVAL, housekeeping::pass)
                    .every(Maintenance.WATCH_RESYNC, WATCH_RESYNC_INTERVAL, watches::onResync)
                    .every(Maintenance.TYPE_REGISTRY, TYPE_REGISTRY_INTERVAL, types::refresh)
                    .every(Maintenance.QUOTAS, QUOTAS_INTERVAL, quotas::refresh)
                    .every(Maintenance.METRICS, METRICS_INTERVAL, () -> metrics.queues(queueDepths(queries)))
                    .shared(Maintenance.QUOTA_USAGE, HOUSEKEEPING_INTERVAL, quotaStore::prune)
                    .shared(Maintenance.CONCURRENCY_KEYS, KEYS_INTERVAL, admitter::admitAllWaiting)
                    .shared(Maintenance.RATE_LIMITS, KEYS_INTERVAL, rateAdmitter::admitAllWaiting)
                    .every(Maintenance.DEPENDENCIES_IN_USE, KEYS_INTERVAL, resolver::refreshInUse)
                    .shared(Maintenance.DEPENDENCIES, STRANDED_INTERVAL, resolver::resolveStranded)
                    .every(Maintenance.FAIR_CLOCK, FAIR_CLOCK_INTERVAL, store.fairClock()::publish)
                    .every(Maintenance.HORIZON, HORIZON_INTERVAL, horizon::check)
                    .shared(Maintenance.CALLBACKS, HOUSEKEEPING_INTERVAL,
                            () -> pruneCallbacks(callbackStore, config.database().retention()));
            this.callbacks = new CallbackDeliverer(callbackStore, queries, callbackPolicy,
                    new CallbackDeliverer.Settings(callbackConfig.retryFor(), callbackConfig.retryInitial(),
                            callbackConfig.maxInFlight(), callbackConfig.pollInterval(), callbackConfig.claimTimeout()),
                    json, metrics);
            taken.push(callbacks);
            taken.push(maintenance);

            // A cached pool; a task offered after close (only if the server outlived its termination wait)
            // belongs to a stream that is already gone: it is dropped quietly, not logged as a failure.
            this.callPool = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(),
                    new ThreadFactoryBuilder().setNameFormat("jobwire-call-%d").setDaemon(true).build(),
                    (task, pool) -> log.debug("dropped a call's callback after shutdown"));
            taken.push(callPool::shutdownNow);
            Services services = new Services(store, writes, queries, registry, types, quotaStore, quotas, sessions,
                    dispatcher, watches, json, callbackStore, callbackPolicy, callbacks, callbackConfig.retryFor(), metrics, tracing,
                    config.limits().maxPayloadBytes(), config.timing().defaultLease(), config.limits().strictTypes(),
                    config.limits().maxWatchBacklog(), config.limits().maxWatchesPerPrincipal(),
                    new ScheduleStore(database.jdbi()),
                    owner -> tokens.submitRights(owner).map(types -> new Principal(owner, java.util.EnumSet.of(Role.SUBMIT), types)),
                    new PauseStore(database.jdbi()), wakeDispatchers, rateLimits, rateAdmitter, callPool, builder.clock);
            // Every broker fires the schedules due (each row locked by one at a time); an idle pass is one
            // indexed read.
            maintenance.every(Maintenance.SCHEDULES, Duration.ofSeconds(1), services.schedules()::fireDue);
            ServerBuilder<?> serverBuilder = builder.serverBuilder != null ? builder.serverBuilder
                    : NettyServerBuilder.forAddress(new InetSocketAddress(config.listen().host(), config.listen().port()), credentials)
                            .permitKeepAliveTime(10, TimeUnit.SECONDS)
                            .permitKeepAliveWithoutCalls(true)
                            .maxInboundMetadataSize(MAX_METADATA_BYTES)
                            .maxConcurrentCallsPerConnection(MAX_CALLS_PER_CONNECTION);
            ServerServiceDefinition jobService = StrictParsing.wrap(services.jobService().bindService());
            ServerServiceDefinition workerService = StrictParsing.wrap(services.workerService().bindService());
            AuthInterceptor auth = new AuthInterceptor(tokens, new JobTokens(id -> queries.runningAttempt(id)
                    .map(running -> new JobTokens.RunningAttempt(running.lease().jobId(), running.lease().attempt(),
                            running.lease().token(), running.owner(), running.unexpired(), usesOf(running.type()))),
                    tokens));
            CallMetrics callMetrics = new CallMetrics(metrics);
            jobService = ServerInterceptors.intercept(jobService, tracing.interceptor(), auth, callMetrics); // the last runs first
            workerService = ServerInterceptors.intercept(workerService, auth, callMetrics);
            this.server = serverBuilder
                    .directExecutor()
                    .callExecutor(InlineCalls.of(callPool, JobServiceGrpc.getSubmitMethod()))
                    .addService(jobService)
                    .addService(workerService)
                    .addService(health.getHealthService())
                    .addService(ProtoReflectionServiceV1.newInstance())
                    .addService(reflectionV1Alpha())
                    .maxInboundMessageSize(config.limits().maxPayloadBytes() * 8 + 1024 * 1024)
                    .build();

            announcer.start();
            listener.start(DB_CONNECTION_TIMEOUT);
            dispatcher.start();
            admitter.start();
            rateAdmitter.start();
            resolver.start();
            // Finished jobs have their partition from the first one on (another broker may be at it: then it is).
            housekeeping.partitions().ensureAhead();
            maintenance.start();
            callbacks.start();
            server.start();
            if (config.listen().httpPort() != 0) {
                // The dashboard calls the JobService in process, through the same interceptors as a gRPC
                // client: it can see and do exactly what the logged-in token can.
                String inProcessName = "jobwire-dashboard-" + brokerId + "-" + System.identityHashCode(this);
                Server inProcess = InProcessServerBuilder.forName(inProcessName).executor(callPool)
                        .addService(jobService).build().start();
                taken.push(() -> inProcess.shutdownNow());
                dashboardParts.add(0, inProcess::shutdownNow);
                ManagedChannel toSelf = InProcessChannelBuilder.forName(inProcessName).directExecutor().build();
                taken.push(toSelf::shutdownNow);
                dashboardParts.add(0, toSelf::shutdownNow);
                Dashboard dashboard = new Dashboard(toSelf,
                        tokens.isEmpty() ? null : token -> tokens.authenticate(token)
                                .map(p -> new Dashboard.Login(p.name(), p.isAdmin())),
                        config.listen().tlsCert() != null, config.listen().host(), owner -> dashboardCounts(queries, owner),
                        builder.clock);
                taken.push(dashboard);
                dashboardParts.add(0, dashboard);
                dashboard.start();
                this.http = new HttpEndpoints(config.listen().host(), config.listen().httpPort(), metrics, this::notReadyBecause,
                        tokens.isEmpty() ? null : token -> tokens.authenticate(token).filter(p -> p.isAdmin()).isPresent(),
                        config.listen().tlsCert() == null ? null : PemTls.of(config.listen().tlsCert(), config.listen().tlsKey()),
                        dashboard.handler());
                taken.push(http);
                http.start();
                log.info("dashboard at {}://{}:{}/ (metrics at /metrics, health at /healthz and /readyz)",
                        config.listen().tlsCert() == null ? "http" : "https", browsable(config.listen().host()), http.port());
            }
            if (tokens.isEmpty()) {
                log.warn("*** NO AUTHENTICATION: no tokens are configured, so anyone who can reach {}:{} may "
                        + "submit, run and cancel any job. Set --tokens-file (see 'jobwire token') before exposing "
                        + "the broker. ***", config.listen().host(), server.getPort());
            } else {
                log.info("authentication on: {} token(s)", tokens.size());
            }
            health.setStatus("", io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
            log.info("Jobwire broker {} listening on {}:{}{}{}", brokerId, config.listen().host(), server.getPort(),
                    config.listen().tlsCert() == null ? "" : config.listen().tlsClientCa() == null ? " with TLS" : " with mutual TLS",
                    embedded != null ? " (embedded PostgreSQL in " + config.database().dataDir().toAbsolutePath() + ")" : "");
        } catch (IOException | RuntimeException e) {
            giveBack(taken, e);
            throw e;
        }
    }

    /** Closes what a failed start took, last first; a failure to close one is added to the start's error. */
    private static void giveBack(Deque<AutoCloseable> taken, Exception failure) {
        while (!taken.isEmpty()) {
            try {
                taken.pop().close();
            } catch (Exception e) {
                failure.addSuppressed(e);
            }
        }
    }

    /**
     * Server reflection as v1alpha too: grpcurl, Postman, Kreya and many client libraries still ask for
     * it first. grpc-java marks it deprecated in favour of v1, which is served as well.
     */
    @SuppressWarnings("deprecation")
    private static io.grpc.BindableService reflectionV1Alpha() {
        return io.grpc.protobuf.services.ProtoReflectionService.newInstance();
    }

    /** Plaintext, TLS, or mutual TLS when client certificates must chain to {@code --tls-client-ca}. */
    static ServerCredentials credentials(BrokerConfig config) {
        if ((config.listen().tlsCert() == null) != (config.listen().tlsKey() == null)) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        if (config.listen().tlsClientCa() != null && config.listen().tlsCert() == null) {
            throw new IllegalArgumentException("--tls-client-ca needs --tls-cert and --tls-key");
        }
        if (config.listen().tlsCert() == null) {
            return InsecureServerCredentials.create();
        }
        try {
            TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder()
                    .keyManager(config.listen().tlsCert().toFile(), config.listen().tlsKey().toFile());
            if (config.listen().tlsClientCa() != null) {
                tls.trustManager(config.listen().tlsClientCa().toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
            }
            return tls.build();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the TLS files (--tls-cert, --tls-key, --tls-client-ca): "
                    + e.getMessage(), e);
        }
    }

    /**
     * The accepted tokens. Without any, the broker runs open, which is only allowed on a loopback
     * address: an open broker on a reachable interface is refused at start.
     */
    /** Finished callback deliveries go with the jobs' retention; {@code --retention 0s} keeps both forever. */
    private static void pruneCallbacks(CallbackStore store, Duration retention) {
        if (!retention.isZero()) {
            store.prune(retention, PRUNE_BATCH);
        }
    }

    /** Queued jobs and the oldest one's wait per (type, queue), from the maintained counts. */
    private static Map<List<String>, long[]> queueDepths(JobQueries queries) {
        Map<List<String>, long[]> depths = new java.util.HashMap<>();
        for (QueueCounts counts : queries.queueCounts(null, null, null)) {
            depths.put(List.of(counts.type(), counts.queue()), new long[] {counts.queued(),
                    counts.oldestQueuedAge() == null ? 0 : counts.oldestQueuedAge().toMillis()});
        }
        return depths;
    }

    /** The dashboard's counts per (type, queue): one owner's, or all when owner is null. */
    private static List<Timeline.Counts> dashboardCounts(JobQueries queries, String owner) {
        return queries.queueCounts(null, null, owner).stream()
                .map(c -> new Timeline.Counts(c.type(), c.queue(), c.queued(), c.running(), c.succeeded(), c.failed(),
                        c.cancelled(), c.held(), c.oldestQueuedAge()))
                .toList();
    }

    /** A host to put in a link: a wildcard address is reached through localhost. */
    private static String browsable(String host) {
        return host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]") ? "localhost"
                : host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    /** Why /readyz answers 503: shutting down, or the database does not answer. Null: ready. */
    private String notReadyBecause() {
        if (closed) {
            return "shutting down";
        }
        try {
            database.jdbi().withHandle(handle -> handle.createQuery("SELECT 1").mapTo(Integer.class).one());
            return null;
        } catch (RuntimeException e) {
            return "the database does not answer (" + e.getClass().getSimpleName() + ")";
        }
    }

    /** The HTTP port serving /metrics, or 0 when there is none. */
    public int httpPort() {
        return http == null ? 0 : http.port();
    }

    /** What a registered type lists in {@code uses}: the types its jobs' tokens may submit. */
    private List<String> usesOf(String type) {
        TypeRegistry.Registered registered = types.find(type);
        return registered == null ? List.of() : registered.registration().uses();
    }

    static TokenStore tokens(BrokerConfig config) {
        TokenStore fromFile = config.auth().tokensFile() == null ? TokenStore.empty() : TokenStore.fromFile(config.auth().tokensFile());
        TokenStore inline = config.auth().tokens() == null || config.auth().tokens().isBlank() ? TokenStore.empty()
                : TokenStore.parse(config.auth().tokens(), "JOBWIRE_TOKENS");
        TokenStore tokens = fromFile.isEmpty() ? inline : inline.isEmpty() ? fromFile
                : TokenStore.parse(readAll(config.auth().tokensFile()) + "\n" + config.auth().tokens(), "tokens");
        if (tokens.isEmpty() && !isLoopback(config.listen().host())) {
            throw new IllegalArgumentException("--host " + config.listen().host() + " is reachable from other machines, but no "
                    + "tokens are configured: set --tokens-file (or JOBWIRE_TOKENS), or bind to 127.0.0.1");
        }
        return tokens;
    }

    private static String readAll(java.nio.file.Path file) {
        try {
            return java.nio.file.Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    private static boolean isLoopback(String host) {
        try {
            return java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("--host " + host + " cannot be resolved", e);
        }
    }

    public static Builder builder(BrokerConfig config) {
        return new Builder(config);
    }

    /** The port the server listens on (useful with port 0). */
    public int port() {
        return server.getPort();
    }

    public BrokerConfig config() {
        return config;
    }

    /** The reaper, so tests can run a pass or hook into one. */
    public Reaper reaper() {
        return reaper;
    }

    /** The background passes, so tests can run one now ({@link Maintenance#runNow}). */
    public Maintenance maintenance() {
        return maintenance;
    }

    /** The dispatcher, so tests can see how many claims it made. */
    public Dispatcher dispatcher() {
        return dispatcher;
    }

    /**
     * Nothing of its own is about to make the dispatcher claim: the change listener has made its resyncs
     * after connecting, the change bus has delivered everything, and the dispatcher waits unwoken. Until
     * a poll interval, a due time, a worker or another broker wakes it. For tests that need a quiet broker.
     */
    public boolean quiet() {
        return listener.settled() && bus.idle() && dispatcher.idle();
    }

    /** The JDBC URL of the database in use. */
    public String jdbcUrl() {
        return database.jdbcUrl();
    }

    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    /**
     * Shuts down cleanly: refuses new calls, tells workers to drain (they reconnect elsewhere, and their
     * leases stay valid), lets calls in flight finish within the drain timeout, then stops the
     * background work, the pool and the embedded database.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        long deadline = System.nanoTime() + config.timing().drainTimeout().toNanos();
        log.info("broker {} shutting down: draining workers for up to {}", config.brokerId(), config.timing().drainTimeout());
        health.enterTerminalState();
        server.shutdown();
        sessions.drainAll(config.timing().drainTimeout());
        watches.endAll(Status.UNAVAILABLE.withDescription("the broker is shutting down; watch again on another broker"));
        while (!sessions.sessions().isEmpty() && System.nanoTime() < deadline) {
            sleep(50);
        }
        sessions.closeAll();
        try {
            // Streams just ended with UNAVAILABLE: give their trailers a moment to reach the workers.
            long remaining = Math.max(TimeUnit.SECONDS.toNanos(1), deadline - System.nanoTime());
            if (!server.awaitTermination(remaining, TimeUnit.NANOSECONDS)) {
                server.shutdownNow();
                // Every stream's last callbacks (closed, cancelled) run on the call pool; it may stop only
                // once the server has terminated. Stopping it after a fixed 5 s made a busy broker with
                // thousands of streams reject those callbacks, each with a stack trace in the log.
                if (!server.awaitTermination(SERVER_TERMINATION_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                    log.warn("the gRPC server did not terminate within {}; stopping anyway", SERVER_TERMINATION_WAIT);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            server.shutdownNow();
        }
        maintenance.close();
        // A callback request still open is abandoned: its delivery is taken again when its claim runs out.
        callbacks.close();
        if (http != null) {
            http.close();
        }
        for (AutoCloseable part : dashboardParts) {
            try {
                part.close();
            } catch (Exception e) {
                log.debug("closing the dashboard: {}", e.toString());
            }
        }
        callPool.shutdown();
        writes.close();
        dispatcher.close();
        admitter.close();
        rateAdmitter.close();
        resolver.close();
        announcer.close();
        listener.close();
        bus.close();
        watches.close();
        database.close();
        metrics.close();
        tracing.close();
        if (embedded != null) {
            embedded.close();
        }
        log.info("broker {} stopped", config.brokerId());
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Builds a broker; the extra knobs are seams for tests (a fixed jitter, a clock, an in-process server). */
    public static final class Builder {
        private final BrokerConfig config;
        private DoubleSupplier jitter = () -> 0.5 + ThreadLocalRandom.current().nextDouble() * 0.5;
        private Clock clock = Clock.systemUTC();
        private ServerBuilder<?> serverBuilder;
        private io.opentelemetry.api.OpenTelemetry openTelemetry;

        /** Records traces with this OpenTelemetry instead of one configured from the OTEL_* variables. */
        public Builder openTelemetry(io.opentelemetry.api.OpenTelemetry value) {
            this.openTelemetry = value;
            return this;
        }

        private Builder(BrokerConfig config) {
            this.config = config;
        }

        /** The backoff jitter factor source, values in [0.5, 1.0]. */
        public Builder jitter(DoubleSupplier value) {
            this.jitter = value;
            return this;
        }

        public Builder clock(Clock value) {
            this.clock = value;
            return this;
        }

        /** Serve on this builder instead of Netty on the configured host and port. */
        public Builder serverBuilder(ServerBuilder<?> value) {
            this.serverBuilder = value;
            return this;
        }

        public Broker start() {
            try {
                return new Broker(this);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start the broker: " + e.getMessage(), e);
            }
        }
    }
}
