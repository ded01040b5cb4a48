package io.jobwire.broker.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobState;
import io.jobwire.broker.auth.Role;
import io.jobwire.broker.auth.TokenStore;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.TestCertificates;
import io.jobwire.client.JobwireClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Node.js example (examples/node) as a newcomer runs it: real {@code node} processes against a real
 * broker with TLS and bearer tokens. Needs node and npm on the PATH (CI installs them); fails, never skips,
 * without them. Runs {@code npm ci} in the example when its node_modules is missing.
 */
class NodeExampleTest {
    /** How long any one step (a process starting, a line appearing, a job finishing) may take. */
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Duration NPM_TIMEOUT = Duration.ofMinutes(5);
    private static final Path EXAMPLE = Path.of("..", "examples", "node").toAbsolutePath().normalize();
    private static final String TYPE = "node.echo";
    private static final String SUBMIT_TOKEN = TokenStore.newToken();
    private static final String WORK_TOKEN = TokenStore.newToken();

    @TempDir
    static Path dir;
    private static TestCertificates.Pem server;
    private static BrokerFixture fixture;

    @BeforeAll
    static void start() throws Exception {
        assertThat(EXAMPLE.resolve("worker.js")).as("the Node example next to the broker module").isRegularFile();
        requireNode();
        if (!Files.isDirectory(EXAMPLE.resolve("node_modules"))) {
            Result npm = run(NPM_TIMEOUT, List.of("npm", "ci", "--no-audit", "--no-fund"), Map.of());
            assertThat(npm.exit()).as("npm ci in %s:%n%s%n%s", EXAMPLE, npm.stdout(), npm.stderr()).isZero();
        }
        server = TestCertificates.create(dir, "broker");
        String tokens = String.join("\n",
                TokenStore.line(SUBMIT_TOKEN, "node-producer", List.of(Role.SUBMIT), List.of()),
                TokenStore.line(WORK_TOKEN, "node-worker", List.of(Role.WORK), List.of(TYPE)));
        fixture = BrokerFixture.start(c -> c.tlsCert(server.certificate()).tlsKey(server.privateKey())
                .tokens(tokens));
    }

    @AfterAll
    static void stop() {
        if (fixture != null) {
            fixture.close();
        }
    }

    /** The variables of examples/node/README.md: a target named in the certificate, a token, the CA file. */
    private static Map<String, String> env(String token) {
        return Map.of("JOBWIRE_TARGET", "localhost:" + fixture.broker().port(), "JOBWIRE_TOKEN", token,
                "JOBWIRE_CA_FILE", server.certificate().toString());
    }

    @Test
    void aJobSubmittedWatchedAndWorkedFromNodeSucceedsOverTlsWithTokens() throws Exception {
        Result submit = node(env(SUBMIT_TOKEN), "submit.js", TYPE, "{\"hello\":\"node\"}");
        assertThat(submit.exit()).as("submit.js: %s", submit.stderr()).isZero();
        Matcher submitted = Pattern.compile("\\{\"id\":\"(\\d+)\",\"state\":\"JOB_STATE_QUEUED\",\"created\":true}")
                .matcher(submit.stdout().strip());
        assertThat(submitted.matches()).as("submit.js printed %s", submit.stdout()).isTrue();
        String id = submitted.group(1);

        // The watch starts before any worker, so it sees the job QUEUED first; then it follows it to the end.
        try (NodeProcess watch = NodeProcess.start(env(SUBMIT_TOKEN), "watch.js", id)) {
            watch.awaitLine(line -> line.equals(id + " JOB_STATE_QUEUED"));
            try (NodeProcess worker = NodeProcess.start(env(WORK_TOKEN), "worker.js", TYPE, "2")) {
                worker.awaitLine(line -> line.startsWith("connected to broker "));
                assertThat(watch.awaitExit()).as("watch.js exit; stderr: %s", watch.stderr).isZero();

                String result = "{\"by\": \"node-" + worker.process.pid() + "\", \"echoed\": {\"hello\": \"node\"}}";
                assertThat(watch.stdout).last().asString()
                        .startsWith(id + " JOB_STATE_SUCCEEDED ").endsWith(" result=" + result);
                // A watch may merge changes that land close together (the RUNNING progress steps), never
                // reorder them: the states it printed go forward only, from QUEUED to SUCCEEDED.
                List<String> states = watch.stdout.stream().map(line -> line.split(" ")[1]).distinct().toList();
                assertThat(states).first().isEqualTo("JOB_STATE_QUEUED");
                assertThat(List.of("JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"))
                        .containsSubsequence(states);
                assertThat(watch.stderr).isEmpty();

                try (JobwireClient client = JobwireClient.builder().target("localhost:" + fixture.broker().port())
                        .tls(server.certificate()).token(SUBMIT_TOKEN).deadline(TIMEOUT).build()) {
                    Job job = client.get(id);
                    assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
                    assertThat(job.getOwner()).isEqualTo("node-producer");
                    assertThat(job.getResult()).isEqualTo(result);
                    assertThat(job.getAttemptsList()).singleElement()
                            .satisfies(attempt -> assertThat(attempt.getWorkerId()).endsWith(":" + worker.process.pid()));
                }
                worker.close();
                assertThat(worker.process.isAlive()).isFalse();
                assertThat(ProcessHandle.of(worker.process.pid())).isEmpty();
                assertThat(worker.stderr).as("worker.js stderr").isEmpty();
            }
        }
    }

    @Test
    void aWrongTokenIsOneLineOnStderrAndAFailedExit() throws Exception {
        Result submit = node(env("jw_not-a-real-token"), "submit.js", TYPE, "{}");
        assertThat(submit.exit()).isNotZero();
        assertThat(submit.stdout()).isEmpty();
        assertThat(submit.stderr().strip()).as("submit.js stderr")
                .isEqualTo("UNAUTHENTICATED: the bearer token is not valid");

        Result worker = node(env("jw_not-a-real-token"), "worker.js", TYPE, "1");
        assertThat(worker.exit()).isNotZero();
        assertThat(worker.stderr().strip()).as("worker.js stderr")
                .isEqualTo("UNAUTHENTICATED: the bearer token is not valid");
    }

    @Test
    void mutualTlsWithTheClientCertificateVariables() throws Exception {
        TestCertificates.Pem mtlsServer = TestCertificates.create(dir, "mtls-broker");
        TestCertificates.Pem client = TestCertificates.create(dir, "node-client");
        try (BrokerFixture broker = BrokerFixture.start(c -> c.tlsCert(mtlsServer.certificate())
                .tlsKey(mtlsServer.privateKey()).tlsClientCa(client.certificate()))) {
            Map<String, String> env = new HashMap<>(Map.of("JOBWIRE_TARGET", "localhost:" + broker.broker().port(),
                    "JOBWIRE_CA_FILE", mtlsServer.certificate().toString()));
            Result refused = node(env, "submit.js", "mtls.job", "{}");
            assertThat(refused.exit()).as("without a client certificate").isNotZero();
            assertThat(refused.stderr().strip()).as("submit.js stderr").doesNotContain("\n").startsWith("UNAVAILABLE: ");

            env.put("JOBWIRE_CLIENT_CERT", client.certificate().toString());
            env.put("JOBWIRE_CLIENT_KEY", client.privateKey().toString());
            Result submit = node(env, "submit.js", "mtls.job", "{}");
            assertThat(submit.exit()).as("submit.js: %s", submit.stderr()).isZero();
            assertThat(submit.stdout()).contains("\"state\":\"JOB_STATE_QUEUED\"");
        }
    }

    // ---- running node ----

    private record Result(int exit, String stdout, String stderr) {
    }

    private static void requireNode() throws Exception {
        Result version;
        try {
            version = run(TIMEOUT, List.of("node", "--version"), Map.of());
            run(TIMEOUT, List.of("npm", "--version"), Map.of());
        } catch (IOException e) {
            throw new AssertionError("node and npm must be on the PATH for the Node example test "
                    + "(Debian: apt-get install nodejs npm): " + e.getMessage(), e);
        }
        Matcher major = Pattern.compile("v(\\d+)\\..*").matcher(version.stdout().strip());
        assertThat(major.matches() && Integer.parseInt(major.group(1)) >= 18)
                .as("node 18 or newer (examples/node/package.json), found %s", version.stdout().strip()).isTrue();
    }

    /** Runs {@code node script args} in the example directory to its end. */
    private static Result node(Map<String, String> env, String... scriptAndArgs) throws Exception {
        List<String> command = new ArrayList<>(List.of("node"));
        command.addAll(List.of(scriptAndArgs));
        return run(TIMEOUT, command, env);
    }

    private static Result run(Duration timeout, List<String> command, Map<String, String> env) throws Exception {
        try (NodeProcess process = new NodeProcess(command, env)) {
            int exit = process.awaitExit(timeout);
            return new Result(exit, String.join("\n", process.stdout), String.join("\n", process.stderr));
        }
    }

    /** A process in the example directory whose output lines are collected as they come. */
    private static final class NodeProcess implements AutoCloseable {
        final Process process;
        final List<String> command;
        final List<String> stdout = new CopyOnWriteArrayList<>();
        final List<String> stderr = new CopyOnWriteArrayList<>();
        private final Thread outReader;
        private final Thread errReader;

        NodeProcess(List<String> command, Map<String, String> env) throws IOException {
            this.command = command;
            ProcessBuilder builder = new ProcessBuilder(command).directory(EXAMPLE.toFile());
            builder.environment().keySet().removeIf(name -> name.startsWith("JOBWIRE_"));
            builder.environment().putAll(env);
            process = builder.start();
            process.getOutputStream().close();
            outReader = collect(process.getInputStream(), stdout);
            errReader = collect(process.getErrorStream(), stderr);
        }

        static NodeProcess start(Map<String, String> env, String... scriptAndArgs) throws IOException {
            List<String> command = new ArrayList<>(List.of("node"));
            command.addAll(List.of(scriptAndArgs));
            return new NodeProcess(command, env);
        }

        private static Thread collect(InputStream stream, List<String> lines) {
            Thread thread = new Thread(() -> {
                try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                    for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            thread.setDaemon(true);
            thread.start();
            return thread;
        }

        private boolean finished() {
            return !process.isAlive() && !outReader.isAlive() && !errReader.isAlive();
        }

        /** Waits until stdout has a line matching {@code wanted}; fails at once if the process ends first. */
        String awaitLine(Predicate<String> wanted) {
            return await().atMost(TIMEOUT).pollInterval(Duration.ofMillis(50)).until(() -> {
                boolean ended = finished();
                String line = stdout.stream().filter(wanted).findFirst().orElse(null);
                if (line == null && ended) {
                    fail("%s exited with %d before printing the line awaited; stdout: %s; stderr: %s",
                            command, process.exitValue(), stdout, stderr);
                }
                return line;
            }, line -> line != null);
        }

        int awaitExit() throws InterruptedException {
            return awaitExit(TIMEOUT);
        }

        int awaitExit(Duration timeout) throws InterruptedException {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                fail("%s did not exit within %s; stdout: %s; stderr: %s", command, timeout, stdout, stderr);
            }
            outReader.join(timeout.toMillis());
            errReader.join(timeout.toMillis());
            return process.exitValue();
        }

        /** SIGTERM, then SIGKILL if it lingers; returns once the process is gone. */
        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
    }
}
