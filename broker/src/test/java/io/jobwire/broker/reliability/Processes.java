package io.jobwire.broker.reliability;

import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.jobwire.broker.testing.JobwireJvm;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Brokers and workers as real processes (the jobwire jar's main class on the test class path). */
final class Processes {
    private Processes() {
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    static Process jobwire(Path log, List<String> args) throws IOException {
        return jobwire(log, List.of(), args);
    }

    /** Runs {@code jobwire args} in a JVM of its own with these JVM options, its output appended to log. */
    static Process jobwire(Path log, List<String> jvmOptions, List<String> args) throws IOException {
        List<String> options = new ArrayList<>(List.of("-Xmx256m"));
        options.addAll(jvmOptions);
        return new ProcessBuilder(JobwireJvm.command(options, args)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    /** A broker process on {@code port} over an external database. */
    static final class BrokerProcess implements AutoCloseable {
        final int port;
        private final String databaseUrl;
        private final Path log;
        private Process process;

        BrokerProcess(int port, String databaseUrl, Path log) {
            this.port = port;
            this.databaseUrl = databaseUrl;
            this.log = log;
        }

        BrokerProcess start() throws IOException {
            return start(List.of());
        }

        /** Starts it with more {@code serve} options. */
        BrokerProcess start(List<String> more) throws IOException {
            return start(List.of(), more);
        }

        /** Starts it with JVM options and more {@code serve} options. */
        BrokerProcess start(List<String> jvmOptions, List<String> more) throws IOException {
            launch(jvmOptions, more);
            awaitServing(Duration.ofSeconds(60));
            return this;
        }

        /** Waits for it to serve; if it does not, fails saying whether it exited and how its log ends. */
        private void awaitServing(Duration timeout) {
            try {
                Processes.awaitServing(port, timeout);
            } catch (IllegalStateException e) {
                String state = process.isAlive() ? "still running" : "exited with " + process.exitValue();
                String tail;
                try {
                    List<String> lines = java.nio.file.Files.readAllLines(log);
                    tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
                } catch (IOException unreadable) {
                    tail = "(its log cannot be read: " + unreadable + ")";
                }
                throw new IllegalStateException(e.getMessage() + " (the broker is " + state + "); its log ends:\n" + tail, e);
            }
        }

        /** Starts the process without waiting for it to serve. */
        private void launch(List<String> jvmOptions, List<String> more) throws IOException {
            List<String> args = new ArrayList<>(List.of("serve", "--port", Integer.toString(port), "--database-url",
                    databaseUrl, "--reaper-interval", "200ms", "--poll-interval", "200ms", "--drain-timeout", "3s",
                    "--db-pool-size", "8", "--http-port", "0"));
            args.addAll(more);
            process = jobwire(log, jvmOptions, args);
        }

        /**
         * Starts these brokers at once (as a deployment's replicas come up together, all migrating the one
         * database) and returns once every one serves.
         */
        static List<BrokerProcess> startAll(List<BrokerProcess> brokers) throws IOException {
            for (BrokerProcess broker : brokers) {
                broker.launch(List.of(), List.of());
            }
            try {
                for (BrokerProcess broker : brokers) {
                    broker.awaitServing(Duration.ofSeconds(90));
                }
            } catch (RuntimeException e) {
                for (BrokerProcess broker : brokers) {
                    try {
                        broker.close();
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                    }
                }
                throw e;
            }
            return brokers;
        }

        long pid() {
            return process.pid();
        }

        boolean isAlive() {
            return process.isAlive();
        }

        /** SIGKILL: no drain, no goodbye. */
        void kill() throws InterruptedException {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }

        /** SIGTERM: the graceful shutdown. Returns the exit code. */
        int terminate() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return -1;
            }
            return process.exitValue();
        }

        @Override
        public void close() throws InterruptedException {
            if (process != null && process.isAlive()) {
                kill();
            }
        }
    }

    static void awaitServing(int port, Duration timeout) {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        try {
            long until = System.nanoTime() + timeout.toNanos();
            while (true) {
                try {
                    HealthCheckResponse health = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(1, TimeUnit.SECONDS)
                            .check(HealthCheckRequest.getDefaultInstance());
                    if (health.getStatus() == HealthCheckResponse.ServingStatus.SERVING) {
                        return;
                    }
                } catch (RuntimeException e) {
                    if (System.nanoTime() > until) {
                        throw new IllegalStateException("no broker serving on port " + port, e);
                    }
                }
                Thread.sleep(100);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            channel.shutdownNow();
        }
    }

    /** A {@code jobwire work --exec} worker process. */
    static final class WorkerProcess implements AutoCloseable {
        final String workerId;
        private final List<String> args;
        private final Path log;
        private Process process;

        WorkerProcess(String workerId, String targets, String type, Path script, int concurrency, Path log) {
            this.workerId = workerId;
            this.log = log;
            this.args = List.of("work", "--type", type, "--exec", script.toString(), "--target", targets,
                    "--concurrency", Integer.toString(concurrency), "--worker-id", workerId, "--drain-timeout", "3s");
        }

        WorkerProcess start() throws IOException {
            process = jobwire(log, args);
            return this;
        }

        boolean isAlive() {
            return process != null && process.isAlive();
        }

        long pid() {
            return process.pid();
        }

        void kill() throws InterruptedException {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }

        void signal(String name) throws IOException, InterruptedException {
            new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).start().waitFor(10, TimeUnit.SECONDS);
        }

        @Override
        public void close() throws InterruptedException {
            if (process != null && process.isAlive()) {
                signal0("CONT");
                kill();
            }
        }

        private void signal0(String name) {
            try {
                signal(name);
            } catch (IOException e) {
                // the process is about to be killed anyway
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
