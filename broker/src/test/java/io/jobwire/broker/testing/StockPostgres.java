package io.jobwire.broker.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throwaway PostgreSQL server started from the binaries installed on this machine (Debian's
 * {@code postgresql-15}: built with LLVM, {@code jit = on} by default, like most servers users run), in
 * a temporary directory on a free loopback port, stopped when the JVM exits. Its settings are the
 * package's defaults but for those a test run needs: more connections, no fsync.
 *
 * <p>The binaries come from {@code $JOBWIRE_TEST_PG_BIN}, else the newest of
 * {@code /usr/lib/postgresql/<version>/bin} with 15 preferred. PostgreSQL refuses to run as root; as root
 * the server runs as the {@code postgres} user the package creates.
 */
public final class StockPostgres {
    private static final String PREFERRED_VERSION = "15";

    private final Path bin;
    private final Path dataDir;
    private final int port;

    private StockPostgres(Path bin, Path dataDir, int port) {
        this.bin = bin;
        this.dataDir = dataDir;
        this.port = port;
    }

    /** The directory of the installed server binaries, if there is one. */
    public static Optional<Path> binaries() {
        String fromEnv = System.getenv("JOBWIRE_TEST_PG_BIN");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return Optional.of(Path.of(fromEnv)).filter(dir -> Files.isExecutable(dir.resolve("postgres")));
        }
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> versions = Files.list(root)) {
            return versions
                    .filter(dir -> Files.isExecutable(dir.resolve("bin/postgres")))
                    .max(Comparator.comparing((Path dir) -> dir.getFileName().toString().equals(PREFERRED_VERSION))
                            .thenComparing(dir -> dir.getFileName().toString(), Comparator.comparingInt(StockPostgres::major)))
                    .map(dir -> dir.resolve("bin"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int major(String version) {
        try {
            return Integer.parseInt(version);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Initializes and starts a server; it stops when the JVM exits. */
    public static StockPostgres start() {
        Path bin = binaries().orElseThrow(() -> new IllegalStateException("no installed PostgreSQL found: install "
                + "Debian's postgresql-15 (apt-get install postgresql-15) or set JOBWIRE_TEST_PG_BIN"));
        try {
            Path dir = Files.createTempDirectory("jobwire-stock-pg");
            if (isRoot()) {
                UserPrincipal postgres = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
                Files.setOwner(dir, postgres);
            }
            int port = freePort();
            StockPostgres server = new StockPostgres(bin, dir, port);
            server.run(List.of(bin.resolve("initdb").toString(), "-D", dir.resolve("data").toString(), "-A", "trust",
                    "-U", "postgres", "-E", "UTF8", "--no-sync"));
            server.run(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-w",
                    "-t", "120", "-l", dir.resolve("server.log").toString(), "-o",
                    "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off",
                    "start"));
            Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "stock-postgres-stop"));
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the installed PostgreSQL from " + bin, e);
        }
    }

    public int port() {
        return port;
    }

    /** The JDBC URL of {@code database} on this server. */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=postgres";
    }

    private void stop() {
        try {
            run(List.of(bin.resolve("pg_ctl").toString(), "-D", dataDir.resolve("data").toString(), "-m", "immediate",
                    "-w", "stop"));
            try (Stream<Path> files = Files.walk(dataDir)) {
                files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("could not stop the test PostgreSQL in " + dataDir + ": " + e.getMessage());
        }
    }

    private void run(List<String> command) throws IOException {
        List<String> full = new ArrayList<>();
        if (isRoot()) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        Process process = new ProcessBuilder(full).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dataDir.resolveSibling(dataDir.getFileName() + ".out").toFile()))
                .start();
        try {
            if (!process.waitFor(3, TimeUnit.MINUTES) || process.exitValue() != 0) {
                process.destroyForcibly();
                throw new IOException(String.join(" ", full) + " failed; see " + dataDir.getFileName() + ".out in "
                        + dataDir.getParent());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", full), e);
        }
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
