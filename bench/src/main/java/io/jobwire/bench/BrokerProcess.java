package io.jobwire.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The broker under test, as its own JVM started from the release jar, with a sampler that records the
 * largest heap it used (jstat, once a second).
 */
final class BrokerProcess implements AutoCloseable {
    private final Process process;
    private final int port;
    private int httpPort;
    private final Process jstat;
    private final AtomicLong peakHeapKb = new AtomicLong();
    private final AtomicLong peakOldAfterGcKb = new AtomicLong();

    private final Thread stopOnExit;
    private final CpuLimit cpuLimit;

    private BrokerProcess(Process process, int port, Process jstat, Thread stopOnExit, CpuLimit cpuLimit) {
        this.process = process;
        this.port = port;
        this.jstat = jstat;
        this.stopOnExit = stopOnExit;
        this.cpuLimit = cpuLimit;
    }

    static BrokerProcess start(JobwireBench options, String jdbcUrl, Path log) throws IOException, InterruptedException {
        return start(options, jdbcUrl, log, false);
    }

    /**
     * A broker from {@code options}' jar, heap, JVM options and CPU limit ({@code --broker-cpus}: a cgroup
     * of its own). With {@code http}, it also serves its HTTP port (dashboard, /metrics) on a free port.
     */
    static BrokerProcess start(JobwireBench options, String jdbcUrl, Path log, boolean http)
            throws IOException, InterruptedException {
        CpuLimit limit = options.brokerCpus > 0 ? CpuLimit.create(options.brokerCpus) : null;
        try {
            return start(options.brokerJar, jdbcUrl, options.brokerHeap, options.brokerJavaOptions, log, http, limit);
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (limit != null) {
                limit.close();
            }
            throw e;
        }
    }

    private static BrokerProcess start(Path jar, String jdbcUrl, String heap, String javaOptions, Path log, boolean http,
                                       CpuLimit limit) throws IOException, InterruptedException {
        if (!Files.isRegularFile(jar)) {
            throw new IllegalArgumentException("broker jar not found: " + jar + " (build it with mvn -DskipTests package)");
        }
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = new ArrayList<>(List.of(java.toString(), "-Xmx" + heap, "-Xms" + heap));
        for (String option : javaOptions.trim().split("\\s+")) {
            if (!option.isEmpty()) {
                command.add(option);
            }
        }
        command.addAll(List.of("-jar", jar.toString(), "serve", "--port", Integer.toString(port), "--database-url", jdbcUrl));
        int httpPort = 0;
        if (http) {
            try (ServerSocket socket = new ServerSocket(0)) {
                httpPort = socket.getLocalPort();
            }
        }
        // the HTTP port only when asked: older brokers (A/B runs) may not know the option
        if (http) {
            command.addAll(List.of("--http-port", Integer.toString(httpPort)));
        }
        Process process = new ProcessBuilder(limit == null ? command : limit.wrap(command)).redirectErrorStream(true).start();
        // A bench stopped mid-run (Ctrl-C, kill), even while the broker starts, takes it along (and with it
        // jstat, which ends with the JVM it watches).
        Thread stopOnExit = new Thread(process::destroy, "stop-broker");
        try {
            Runtime.getRuntime().addShutdownHook(stopOnExit);
        } catch (IllegalStateException shuttingDown) {
            process.destroy();
            throw shuttingDown;
        }
        CountDownLatch listening = new CountDownLatch(1);
        Thread pump = new Thread(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
                 var out = Files.newBufferedWriter(log)) {
                String line;
                while ((line = reader.readLine()) != null) {
                    out.write(line);
                    out.newLine();
                    out.flush();
                    if (line.contains("listening on")) {
                        listening.countDown();
                    }
                }
            } catch (IOException ignored) {
                // the broker stopped
            }
        }, "broker-log");
        pump.setDaemon(true);
        pump.start();
        // A broker held to a fraction of a CPU starts as much slower (30 s at a quarter of one).
        long startSeconds = limit == null ? 60 : Math.round(60 / Math.min(1.0, limit.cpus()));
        if (!listening.await(startSeconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("the broker did not start within " + startSeconds + " s; see " + log);
        }
        Path jstatBinary = Path.of(System.getProperty("java.home"), "bin", "jstat");
        Process jstat = Files.isExecutable(jstatBinary)
                ? new ProcessBuilder(jstatBinary.toString(), "-gc", Long.toString(process.pid()), "1000")
                        .redirectErrorStream(true).start()
                : null;
        BrokerProcess broker = new BrokerProcess(process, port, jstat, stopOnExit, limit);
        broker.httpPort = httpPort;
        if (jstat != null) {
            Thread sampler = new Thread(broker::readJstat, "jstat");
            sampler.setDaemon(true);
            sampler.start();
        }
        return broker;
    }

    /** jstat -gc columns: S0C S1C S0U S1U EC EU OC OU ... (KB). */
    private void readJstat() {
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(jstat.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            List<String> header = null;
            while ((line = reader.readLine()) != null) {
                String[] fields = line.trim().split("\\s+");
                if (fields.length > 0 && fields[0].equals("S0C")) {
                    header = List.of(fields);
                    continue;
                }
                if (header == null || fields.length != header.size()) {
                    continue;
                }
                double used = value(header, fields, "S0U") + value(header, fields, "S1U")
                        + value(header, fields, "EU") + value(header, fields, "OU");
                peakHeapKb.accumulateAndGet((long) used, Math::max);
                peakOldAfterGcKb.accumulateAndGet((long) value(header, fields, "OU"), Math::max);
            }
        } catch (IOException | RuntimeException ignored) {
            // sampling ends with the broker
        }
    }

    private static double value(List<String> header, String[] fields, String column) {
        int index = header.indexOf(column);
        return index < 0 ? 0 : Double.parseDouble(fields[index]);
    }

    int httpPort() {
        return httpPort;
    }

    String target() {
        return "127.0.0.1:" + port;
    }

    long pid() {
        return process.pid();
    }

    /** CPU time its limit withheld from this broker so far, in ms (0 without --broker-cpus). */
    double throttledMs() {
        return cpuLimit == null ? 0 : cpuLimit.throttledMs();
    }

    /** The most heap the broker had in use at any sample, in MiB (young + old, before collection). */
    double peakHeapMiB() {
        return peakHeapKb.get() / 1024.0;
    }

    /** The largest old generation seen, in MiB: what survived collections. */
    double peakOldGenMiB() {
        return peakOldAfterGcKb.get() / 1024.0;
    }

    @Override
    public void close() throws InterruptedException {
        try {
            Runtime.getRuntime().removeShutdownHook(stopOnExit);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running: it stops the broker too
        }
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
        if (jstat != null) {
            jstat.destroy();
        }
        if (cpuLimit != null) {
            cpuLimit.close();
        }
    }
}
