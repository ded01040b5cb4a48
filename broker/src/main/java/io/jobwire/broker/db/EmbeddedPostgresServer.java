package io.jobwire.broker.db;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server (binaries from Maven Central) kept in the broker's data directory, so
 * {@code jobwire serve} needs nothing installed. Its own log goes to {@code postgres.log} there.
 */
public final class EmbeddedPostgresServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgresServer.class);
    private static final String LOCK_FILE = "epg-lock";
    private static final Duration STARTUP_WAIT = Duration.ofSeconds(60);
    private static final Duration STALE_STOP_WAIT = Duration.ofSeconds(30);

    private final EmbeddedPostgres postgres;

    private EmbeddedPostgresServer(EmbeddedPostgres postgres) {
        this.postgres = postgres;
    }

    /**
     * Starts PostgreSQL on a free loopback port with its data in {@code dataDir/postgres}. A server left
     * running by a broker that was killed is stopped first; a data directory in use by a live broker is
     * refused.
     */
    public static EmbeddedPostgresServer start(Path dataDir) {
        Path pgData = dataDir.resolve("postgres");
        try {
            Files.createDirectories(pgData);
            stopOrphanedServer(pgData);
            ProcessBuilder.Redirect logFile = ProcessBuilder.Redirect.appendTo(dataDir.resolve("postgres.log").toFile());
            EmbeddedPostgres postgres = EmbeddedPostgres.builder()
                    .setDataDirectory(pgData)
                    .setCleanDataDirectory(false)
                    .setPGStartupWait(STARTUP_WAIT)
                    .setOutputRedirector(logFile)
                    .setErrorRedirector(logFile)
                    .setServerConfig("max_connections", "200")
                    // The library starts PostgreSQL for tests: fsync off (-F) and synchronous_commit off,
                    // which can lose acknowledged commits on an OS crash or power loss. Jobwire
                    // acknowledges only durable writes; these later settings win over the library's.
                    .setServerConfig("fsync", "on")
                    .setServerConfig("synchronous_commit", "on")
                    .setServerConfig("full_page_writes", "on")
                    .start();
            log.info("embedded PostgreSQL running on port {} with data in {}", postgres.getPort(), pgData);
            return new EmbeddedPostgresServer(postgres);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the embedded PostgreSQL in " + pgData
                    + " (see " + dataDir.resolve("postgres.log") + ")", e);
        }
    }

    public String jdbcUrl() {
        return postgres.getJdbcUrl("postgres", "postgres");
    }

    public int port() {
        return postgres.getPort();
    }

    @Override
    public void close() {
        try {
            postgres.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stop the embedded PostgreSQL", e);
        }
    }

    /**
     * A broker killed with SIGKILL leaves its PostgreSQL running. The lock file tells a dead owner from
     * a live one: if we can lock it, nobody owns the directory and a running postmaster is an orphan.
     */
    private static void stopOrphanedServer(Path pgData) throws IOException {
        if (!Files.exists(pgData.resolve("PG_VERSION"))) {
            return; // a new directory: initdb needs it empty, and nothing can be running in it
        }
        Path pidFile = pgData.resolve("postmaster.pid");
        try (RandomAccessFile lockFile = new RandomAccessFile(pgData.resolve(LOCK_FILE).toFile(), "rw");
             FileChannel channel = lockFile.getChannel();
             FileLock lock = tryLock(channel)) {
            if (lock == null) {
                throw new IllegalStateException("data directory " + pgData.getParent()
                        + " is in use by another running broker");
            }
            if (!Files.exists(pidFile)) {
                return;
            }
            Optional<ProcessHandle> postmaster = readPid(pidFile).flatMap(ProcessHandle::of)
                    .filter(ProcessHandle::isAlive)
                    .filter(p -> p.info().command().map(c -> c.endsWith("postgres")).orElse(false));
            if (postmaster.isEmpty()) {
                return;
            }
            log.warn("stopping PostgreSQL (pid {}) left running by a broker that did not shut down", postmaster.get().pid());
            postmaster.get().destroy();
            try {
                postmaster.get().onExit().get(STALE_STOP_WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("PostgreSQL left running in " + pgData + " (pid "
                        + postmaster.get().pid() + ") did not stop", e);
            }
        }
    }

    /** The lock, or null when another process (or another broker in this JVM) holds it. */
    private static FileLock tryLock(FileChannel channel) throws IOException {
        try {
            return channel.tryLock();
        } catch (OverlappingFileLockException e) {
            return null;
        }
    }

    private static Optional<Long> readPid(Path pidFile) throws IOException {
        List<String> lines = Files.readAllLines(pidFile);
        if (lines.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(Long.parseLong(lines.get(0).trim()));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
