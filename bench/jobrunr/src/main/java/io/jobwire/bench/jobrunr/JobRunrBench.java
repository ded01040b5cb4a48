package io.jobwire.bench.jobrunr;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.jobrunr.configuration.JobRunr;
import org.jobrunr.scheduling.JobScheduler;
import org.jobrunr.server.BackgroundJobServer;
import org.jobrunr.server.BackgroundJobServerConfiguration;
import org.jobrunr.server.configuration.BackgroundJobServerThreadType;
import org.jobrunr.storage.JobStats;
import org.jobrunr.storage.sql.postgres.PostgresStorageProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The Jobwire benchmark's throughput scenario on JobRunr (see bench/peer/graphile-bench.mjs for graphile-worker's): after
 * untimed table creation on empty JobRunr tables, N no-op jobs are enqueued with JobRunr's stream API in batches while
 * an in-process BackgroundJobServer (JobRunr's fastest free settings: the smallest poll interval it accepts, 5 s) works
 * them off. The clock runs from the first enqueue until the last job is saved as SUCCEEDED. Prints one JSON line on
 * stdout; logs go to stderr. Exits 64 on bad arguments, 2 on --timeout, 1 on any other failure.
 *
 * <pre>
 * java -jar jobrunr-bench.jar --database-url jdbc:postgresql://host:5432/db?user=postgres \
 *     [--jobs 100000] [--batch 1000] [--workers N] [--timeout 600]
 * </pre>
 */
@Command(name = "jobrunr-bench", mixinStandardHelpOptions = true, exitCodeOnInvalidInput = 64,
        description = "Runs Jobwire's throughput scenario on JobRunr with PostgreSQL storage and prints one JSON line.")
public final class JobRunrBench implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger(JobRunrBench.class);

    /**
     * JobRunr's smallest poll interval for a SQL/NoSQL StorageProvider: BackgroundJobServer's constructor rejects less
     * (AbstractStorageProvider.validatePollInterval: "The smallest supported pollInterval is 5 seconds"; the v4.0.0
     * release notes: "the pollIntervalInSeconds can not be smaller than 5"). The default is 15 s.
     */
    static final int POLL_INTERVAL_SECONDS = 5;

    /** Connections beyond one per worker: JobRunr's 5 zookeeper threads (heartbeat, fetch, janitors) and the enqueuer. */
    static final int EXTRA_CONNECTIONS = 6;

    /** Bounds the untimed start (table creation, server start) apart from --timeout. */
    static final int STARTUP_TIMEOUT_SECONDS = 60;

    /** JobRunr's tables and view (no table prefix), dropped so that every run starts from empty, freshly created tables. */
    private static final String DROP_TABLES = "DROP VIEW IF EXISTS jobrunr_jobs_stats CASCADE; "
            + "DROP TABLE IF EXISTS jobrunr_jobs, jobrunr_recurring_jobs, jobrunr_backgroundjobservers, jobrunr_metadata, "
            + "jobrunr_job_counters, jobrunr_migrations CASCADE";

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--database-url", required = true,
            description = "JDBC URL of the PostgreSQL database, e.g. jdbc:postgresql://host:5432/db?user=postgres.")
    String databaseUrl;

    @Option(names = "--jobs", description = "Jobs to run (default: ${DEFAULT-VALUE}).")
    int jobs = 100_000;

    @Option(names = "--batch", description = "Jobs per enqueue call (default: ${DEFAULT-VALUE}).")
    int batch = 1000;

    @Option(names = "--workers",
            description = "BackgroundJobServer worker count (default: JobRunr's own default, 8 per CPU for platform threads).")
    Integer workers;

    @Option(names = "--pool-size", description = "HikariCP pool size (default: workers + " + EXTRA_CONNECTIONS + ").")
    Integer poolSize;

    @Option(names = "--timeout", description = "Seconds from the first enqueue before giving up (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds = 600;

    public static void main(String[] args) {
        CommandLine commandLine = new CommandLine(new JobRunrBench());
        commandLine.setExecutionExceptionHandler((e, cmd, parseResult) -> {
            cmd.getErr().println("jobrunr-bench: " + oneLine(e));
            return e instanceof TimedOut ? 2 : 1;
        });
        System.exit(commandLine.execute(args));
    }

    @Override
    public Integer call() throws Exception {
        BackgroundJobServerThreadType threadType = BackgroundJobServerThreadType.getDefaultThreadType();
        int workerCount = workers != null ? workers : threadType.getDefaultWorkerCount();
        int connections = poolSize != null ? poolSize : workerCount + EXTRA_CONNECTIONS;
        if (jobs < 1 || batch < 1 || workerCount < 1 || connections < 2 || timeoutSeconds < 1) {
            throw new ParameterException(spec.commandLine(), "--jobs, --batch, --workers and --timeout must be positive, --pool-size at least 2");
        }
        startWatchdog(STARTUP_TIMEOUT_SECONDS + timeoutSeconds + 60L);

        HikariConfig pool = new HikariConfig();
        pool.setJdbcUrl(databaseUrl);
        pool.setMaximumPoolSize(connections);
        pool.setPoolName("jobrunr-bench");
        try (HikariDataSource dataSource = new HikariDataSource(pool)) {
            try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement()) {
                statement.execute(DROP_TABLES);
            }
            // Creates JobRunr's tables (DatabaseOptions.CREATE), untimed.
            PostgresStorageProvider storageProvider = new PostgresStorageProvider(dataSource);
            Completions completions = new Completions(jobs);
            int dashboardPort = freePort();
            try {
                // JobRunr's Fluent API configuration for Java ("Java default with a dashboard").
                JobScheduler scheduler = JobRunr.configure()
                        .useStorageProvider(storageProvider)
                        .withJobFilter(completions)
                        .useBackgroundJobServer(BackgroundJobServerConfiguration.usingStandardBackgroundJobServerConfiguration()
                                .andWorkerCount(workerCount)
                                .andPollInterval(Duration.ofSeconds(POLL_INTERVAL_SECONDS)))
                        .useDashboard(dashboardPort)
                        .initialize()
                        .getJobScheduler();
                BackgroundJobServer server = JobRunr.getBackgroundJobServer();
                awaitReady(server);
                log.info("JobRunr {}: {} {} workers, poll interval {} s, {} connections, dashboard on port {}",
                        version(), workerCount, threadType, POLL_INTERVAL_SECONDS, connections, dashboardPort);

                long start = System.nanoTime();
                long deadline = start + TimeUnit.SECONDS.toNanos(timeoutSeconds); // like graphile-bench.mjs: from the first enqueue
                for (int added = 0; added < jobs; added += batch) {
                    int size = Math.min(batch, jobs - added);
                    scheduler.enqueue(IntStream.range(0, size).boxed(), i -> NoopJob.run());
                    checkProgress(server, completions, deadline);
                }
                long submitted = System.nanoTime();
                while (!completions.await(50, TimeUnit.MILLISECONDS)) {
                    checkProgress(server, completions, deadline);
                }
                long end = completions.lastSucceededNanos();
                confirmInStorage(storageProvider, deadline);

                Map<String, Object> result = new LinkedHashMap<>();
                result.put("system", "jobrunr");
                result.put("version", version());
                result.put("java", System.getProperty("java.version"));
                result.put("jobs", jobs);
                result.put("batch", batch);
                result.put("workers", workerCount);
                result.put("threadType", threadType.name());
                result.put("pollIntervalSeconds", POLL_INTERVAL_SECONDS);
                result.put("poolSize", connections);
                long ran = NoopJob.RAN.get();
                if (ran != jobs) {
                    log.warn("the job method ran {} times for {} jobs", ran, jobs);
                    result.put("ran", ran);
                }
                result.put("submitSeconds", round(seconds(submitted - start)));
                result.put("endToEndSeconds", round(seconds(end - start)));
                result.put("submittedPerSecond", round(jobs / seconds(submitted - start)));
                result.put("completedPerSecond", round(jobs / seconds(end - start)));
                System.out.println(new ObjectMapper().writeValueAsString(result));
                System.out.flush();
            } finally {
                JobRunr.destroy(); // stops the BackgroundJobServer, the dashboard and the StorageProvider
            }
        }
        return 0;
    }

    /** Waits until the BackgroundJobServer has announced itself and found JobRunr's data version, so it can fetch work. */
    private static void awaitReady(BackgroundJobServer server) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(STARTUP_TIMEOUT_SECONDS);
        while (server.isNotReadyToProcessJobs()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("the JobRunr BackgroundJobServer did not start within " + STARTUP_TIMEOUT_SECONDS + " s");
            }
            Thread.sleep(20);
        }
    }

    private int stoppedChecks;

    /** Fails the run on a FAILED job, a stopped server (JobRunr stops itself after repeated storage errors) or the deadline. */
    private void checkProgress(BackgroundJobServer server, Completions completions, long deadline) {
        if (completions.failure() != null) {
            throw new IllegalStateException(completions.failure());
        }
        // isRunning() is also false while the server's lifecycle lock is briefly held, so it must stay false a while.
        stoppedChecks = server.isRunning() ? 0 : stoppedChecks + 1;
        if (stoppedChecks >= 10) {
            throw new IllegalStateException("the JobRunr BackgroundJobServer stopped with "
                    + completions.succeeded() + " of " + jobs + " jobs done");
        }
        if (System.nanoTime() - deadline > 0) {
            throw new TimedOut("timed out after " + timeoutSeconds + " s with " + completions.succeeded() + " of " + jobs + " jobs done");
        }
    }

    /** Confirms through JobRunr's own job stats (the jobrunr_jobs_stats view) that all jobs are SUCCEEDED. */
    private void confirmInStorage(PostgresStorageProvider storageProvider, long deadline) throws InterruptedException {
        JobStats stats = storageProvider.getJobStats();
        while (stats.getSucceeded() != jobs || stats.getTotal() != jobs) {
            if (System.nanoTime() - deadline > 0) {
                throw new TimedOut("JobRunr's storage shows " + stats.getSucceeded() + " of " + jobs + " jobs SUCCEEDED ("
                        + stats.getTotal() + " jobs in all, " + stats.getFailed() + " FAILED)");
            }
            Thread.sleep(50);
            stats = storageProvider.getJobStats();
        }
    }

    /** A last resort if shutting down after --timeout hangs. */
    private void startWatchdog(long seconds) {
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(seconds));
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("jobrunr-bench: timed out after " + timeoutSeconds + " s with "
                    + NoopJob.RAN.get() + " of " + jobs + " jobs run; JobRunr did not shut down");
            Runtime.getRuntime().halt(2);
        }, "jobrunr-bench-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** The JobRunr version this jar was built with (filtered into jobrunr-bench.properties by Maven). */
    static String version() {
        try (InputStream in = JobRunrBench.class.getResourceAsStream("/jobrunr-bench.properties")) {
            Properties properties = new Properties();
            if (in != null) {
                properties.load(in);
            }
            return properties.getProperty("jobrunr.version", "unknown");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String oneLine(Throwable e) {
        StringBuilder message = new StringBuilder(String.valueOf(e.getMessage() != null ? e.getMessage() : e.getClass().getName()));
        for (Throwable cause = e.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            if (cause.getMessage() != null && !message.toString().contains(cause.getMessage())) {
                message.append(": ").append(cause.getMessage());
            }
            if (cause instanceof SQLException) {
                break;
            }
        }
        return message.toString().replaceAll("\\s*\\R\\s*", " ");
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    private static double round(double value) {
        return Math.round(value * 100) / 100.0;
    }

    /** The run did not finish within --timeout. */
    static final class TimedOut extends RuntimeException {
        TimedOut(String message) {
            super(message);
        }
    }
}
