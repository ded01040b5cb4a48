package io.jobwire.broker.testing;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.WorkerServiceGrpc;
import io.jobwire.broker.Broker;
import io.jobwire.broker.BrokerConfig;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real broker on a loopback port over its own fresh database, with a channel to it. Intervals are
 * short so tests run fast; the backoff jitter is fixed at 1.0 so delays are exact.
 *
 * <p>One broker for a whole test class:
 * <pre>{@code
 * @RegisterExtension
 * static final BrokerFixture fixture = BrokerFixture.perClass();
 * }</pre>
 * starts before the class's {@code @BeforeAll} methods and stops after its {@code @AfterAll} ones. Two
 * brokers on one database, the second started after the first and stopped before it:
 * <pre>{@code
 * @RegisterExtension @Order(1)
 * static final BrokerFixture a = BrokerFixture.perClass();
 * @RegisterExtension @Order(2)
 * static final BrokerFixture b = BrokerFixture.perClassBeside(a);
 * }</pre>
 */
public final class BrokerFixture implements AutoCloseable, BeforeAllCallback, AfterAllCallback {
    private final UnaryOperator<BrokerConfig.Builder> customize;
    /** For a broker per class: the broker whose database it shares, or null for a new database. */
    private final BrokerFixture beside;
    private String jdbcUrl;
    private Broker broker;
    private ManagedChannel channel;
    private final List<RawWorker> workers = new ArrayList<>();
    private io.jobwire.client.JobwireClient client;

    private BrokerFixture(UnaryOperator<BrokerConfig.Builder> customize) {
        this(customize, null);
    }

    private BrokerFixture(UnaryOperator<BrokerConfig.Builder> customize, BrokerFixture beside) {
        this.customize = customize;
        this.beside = beside;
    }

    private BrokerFixture started(String jdbcUrl, Clock clock) {
        return started(jdbcUrl, clock, assembly -> assembly);
    }

    private BrokerFixture started(String jdbcUrl, Clock clock, UnaryOperator<Broker.Builder> assemble) {
        BrokerConfig config = customize.apply(testConfig().databaseUrl(jdbcUrl)).build();
        this.broker = assemble.apply(Broker.builder(config).jitter(() -> 1.0).clock(clock)).start();
        this.jdbcUrl = jdbcUrl;
        this.channel = NettyChannelBuilder.forAddress("127.0.0.1", broker.port()).usePlaintext().build();
        return this;
    }

    /** A broker on a new database for each test class that registers it (see above). */
    public static BrokerFixture perClass() {
        return perClass(config -> config);
    }

    public static BrokerFixture perClass(UnaryOperator<BrokerConfig.Builder> customize) {
        return new BrokerFixture(customize);
    }

    /** A second broker per class, on the database of {@code first} (registered with a later {@code @Order}). */
    public static BrokerFixture perClassBeside(BrokerFixture first) {
        return perClassBeside(first, config -> config);
    }

    public static BrokerFixture perClassBeside(BrokerFixture first, UnaryOperator<BrokerConfig.Builder> customize) {
        return new BrokerFixture(customize, first);
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        if (beside != null && beside.jdbcUrl == null) {
            throw new IllegalStateException("the broker to share a database with has not started: give it the lower @Order");
        }
        started(beside == null ? TestPostgres.newDatabase() : beside.jdbcUrl, Clock.systemUTC());
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    /** A broker on a new database. */
    public static BrokerFixture start() {
        return start(TestPostgres.newDatabase(), config -> config);
    }

    public static BrokerFixture start(UnaryOperator<BrokerConfig.Builder> customize) {
        return start(TestPostgres.newDatabase(), customize);
    }

    /** A broker on the given database (several brokers may share one). */
    public static BrokerFixture start(String jdbcUrl, UnaryOperator<BrokerConfig.Builder> customize) {
        return start(jdbcUrl, customize, Clock.systemUTC());
    }

    /** A broker on the given database whose time is {@code clock} (its database keeps its own). */
    public static BrokerFixture start(String jdbcUrl, UnaryOperator<BrokerConfig.Builder> customize, Clock clock) {
        return new BrokerFixture(customize).started(jdbcUrl, clock);
    }

    /** A broker on a new database, its assembly adjusted too (an OpenTelemetry, for instance). */
    public static BrokerFixture start(UnaryOperator<BrokerConfig.Builder> customize, UnaryOperator<Broker.Builder> assemble) {
        return new BrokerFixture(customize).started(TestPostgres.newDatabase(), Clock.systemUTC(), assemble);
    }

    /** The settings of a test broker: any free port, short intervals, a small pool. */
    public static BrokerConfig.Builder testConfig() {
        return BrokerConfig.builder()
                .port(0)
                .dataDir(Path.of("target", "unused-data-dir"))
                .reaperInterval(Duration.ofMillis(200))
                .pollInterval(Duration.ofMillis(200))
                .presenceInterval(Duration.ofMillis(200))
                .drainTimeout(Duration.ofSeconds(2))
                .poolSize(8);
    }

    /** A {@code JobwireClient} of this broker, made on first use and closed with the fixture. */
    public synchronized io.jobwire.client.JobwireClient client() {
        if (client == null) {
            client = io.jobwire.client.JobwireClient.connect("127.0.0.1:" + broker.port());
        }
        return client;
    }

    public Broker broker() {
        return broker;
    }

    public String jdbcUrl() {
        return jdbcUrl;
    }

    public ManagedChannel channel() {
        return channel;
    }

    public JobServiceGrpc.JobServiceBlockingStub jobs() {
        return JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    public JobServiceGrpc.JobServiceStub jobsAsync() {
        return JobServiceGrpc.newStub(channel);
    }

    public WorkerServiceGrpc.WorkerServiceStub workerStub() {
        return WorkerServiceGrpc.newStub(channel);
    }

    /** Submits a job of {@code type} with {@code payload} and returns its id. */
    public String submit(String type, String payload) {
        return jobs().submit(SubmitRequest.newBuilder()
                .setJob(JobSpec.newBuilder().setType(type).setPayload(payload)).build()).getJob().getId();
    }

    public String submit(JobSpec spec) {
        return jobs().submit(SubmitRequest.newBuilder().setJob(spec).build()).getJob().getId();
    }

    /** A raw worker stream (no SDK) that says Hello for {@code types} with {@code concurrency}. */
    public RawWorker connectWorker(String workerId, int concurrency, String... types) {
        RawWorker worker = RawWorker.connect(workerStub(), workerId, concurrency, types);
        workers.add(worker);
        return worker;
    }

    public RawWorker connectWorker(io.jobwire.api.v1.Hello hello) {
        RawWorker worker = RawWorker.connect(workerStub(), hello);
        workers.add(worker);
        return worker;
    }

    /** Runs one SQL statement on the broker's database (to build a state, e.g. an expired lease). */
    public int sql(String statement) {
        try (Connection connection = DriverManager.getConnection(jdbcUrl);
             Statement sql = connection.createStatement()) {
            return sql.executeUpdate(statement);
        } catch (SQLException e) {
            throw new IllegalStateException(statement, e);
        }
    }

    /** A single number from the broker's database. */
    public long queryLong(String query) {
        try (Connection connection = DriverManager.getConnection(jdbcUrl);
             Statement sql = connection.createStatement();
             ResultSet rows = sql.executeQuery(query)) {
            rows.next();
            return rows.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(query, e);
        }
    }

    /** A single text value from the broker's database. */
    public String queryString(String query) {
        try (Connection connection = DriverManager.getConnection(jdbcUrl);
             Statement sql = connection.createStatement();
             ResultSet rows = sql.executeQuery(query)) {
            return rows.next() ? rows.getString(1) : null;
        } catch (SQLException e) {
            throw new IllegalStateException(query, e);
        }
    }

    /** Makes the job's lease expire now, as if its worker had stopped heartbeating long ago. */
    public void expireLease(String jobId) {
        sql("UPDATE live_jobs SET lease_expires_at = now() - interval '1 hour' WHERE id = " + jobId
                + "; UPDATE job_leases SET check_at = now() - interval '1 hour' WHERE job_id = " + jobId);
    }

    /** Moves a queued job's run_at (its row and its ready entry) to the SQL expression {@code runAt}. */
    public void setRunAt(String jobId, String runAt) {
        sql("UPDATE live_jobs SET run_at = " + runAt + " WHERE id = " + jobId
                + "; UPDATE job_ready SET run_at = " + runAt + " WHERE job_id = " + jobId);
    }

    @Override
    public void close() {
        if (broker == null) {
            return; // never started
        }
        workers.forEach(RawWorker::close);
        workers.clear();
        synchronized (this) {
            if (client != null) {
                client.close();
                client = null;
            }
        }
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        broker.close();
    }
}
