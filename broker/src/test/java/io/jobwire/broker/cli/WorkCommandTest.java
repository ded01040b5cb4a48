package io.jobwire.broker.cli;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.JobTypeRegistration;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.JobwireJvm;
import io.jobwire.client.JobwireClient;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@code jobwire work --exec} as a real process turning shell scripts into workers. */
class WorkCommandTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();
    private static JobwireClient client;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        client = fixture.client();
    }

    private Path script(String name, String body) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, "#!/bin/sh\n" + body);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }

    private Process work(String type, Path script, String... options) throws IOException {
        List<String> command = new ArrayList<>(JobwireJvm.command(List.of("work", "--type", type, "--exec", script.toString(),
                "--target", "127.0.0.1:" + fixture.broker().port(), "--drain-timeout", "2s")));
        command.addAll(List.of(options));
        if (!command.contains("--concurrency")) {
            command.addAll(List.of("--concurrency", "2"));
        }
        File log = dir.resolve(type + ".log").toFile();
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log).start();
    }

    private static Job awaitFinished(String id) {
        return client.awaitFinished(id, java.time.Instant.now().plusSeconds(30), null);
    }

    @Test
    void succeedingScriptReportsProgressAndItsOutputBecomesTheResult() throws Exception {
        Path script = script("ok.sh", """
                payload=$(cat)
                echo "PROGRESS 40 reading input" >&2
                sleep 0.3
                echo "PROGRESS 90 almost" >&2
                echo "an ordinary log line" >&2
                echo "{\\"got\\": $payload, \\"id\\": \\"$JOBWIRE_JOB_ID\\", \\"attempt\\": $JOBWIRE_ATTEMPT, \\"type\\": \\"$JOBWIRE_JOB_TYPE\\"}"
                """);
        Process worker = work("exec.ok", script);
        try {
            List<Float> progress = new ArrayList<>();
            Job done = client.submitAndWait(JobSpec.newBuilder().setType("exec.ok").setPayload("{\"n\":5}").build(),
                    Duration.ofSeconds(30), job -> progress.add(job.getProgress().getPercent()));
            assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(done.getResult()).isEqualTo("{\"id\": \"" + done.getId()
                    + "\", \"got\": {\"n\": 5}, \"type\": \"exec.ok\", \"attempt\": 1}");
            assertThat(progress).contains(40f);
            assertThat(Files.readString(dir.resolve("exec.ok.log"))).contains("[job " + done.getId() + "] an ordinary log line");
        } finally {
            stop(worker);
        }
    }

    @Test
    void aJobwireCommandInTheScriptActsWithTheJobToken() throws Exception {
        client.registerJobType(JobTypeRegistration.newBuilder().setName("exec.parent").addUses("exec.child").build());
        Path script = script("parent.sh", "cat > /dev/null\n"
                + "env | grep '^JOBWIRE_' | sort > " + dir.resolve("env") + "\n"
                + JobwireJvm.shell() + " submit --type exec.child --payload '{\"from\": \"'$JOBWIRE_JOB_ID'\"}' -q\n");
        Process worker = work("exec.parent", script, "--token", "the-workers-own-token");
        try {
            Job parent = client.submit("exec.parent", "{}");
            Job done = client.awaitFinished(parent.getId(), java.time.Instant.now().plus(scaled(Duration.ofSeconds(60))), null);
            assertThat(done.getState()).as(Files.readString(dir.resolve("exec.parent.log"))).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            Job child = client.get(done.getResult().replace("\"", ""));
            assertThat(child.getParentId()).isEqualTo(parent.getId());
            assertThat(child.getPayload()).isEqualTo("{\"from\": \"" + parent.getId() + "\"}");
            List<String> env = Files.readAllLines(dir.resolve("env"));
            String token = env.stream().filter(line -> line.startsWith("JOBWIRE_JOB_TOKEN=")).findFirst().orElseThrow()
                    .substring("JOBWIRE_JOB_TOKEN=".length());
            assertThat(token).startsWith("jwj_");
            // the job's process holds the job token, never the worker's own
            assertThat(env).contains("JOBWIRE_TOKEN=" + token, "JOBWIRE_TARGET=127.0.0.1:" + fixture.broker().port())
                    .noneMatch(line -> line.contains("the-workers-own-token"));
        } finally {
            stop(worker);
        }
    }

    @Test
    void plainTextOutputBecomesAJsonString() throws Exception {
        Process worker = work("exec.text", script("text.sh", "cat > /dev/null\necho 'hello world'\n"));
        try {
            String id = client.submit("exec.text", "{}").getId();
            assertThat(awaitFinished(id).getResult()).isEqualTo("\"hello world\"");
        } finally {
            stop(worker);
        }
    }

    @Test
    void failingScriptFailsTheJobWithTheTailOfItsErrors() throws Exception {
        Process worker = work("exec.fail", script("fail.sh", """
                cat > /dev/null
                echo "connecting to the printer" >&2
                echo "printer on fire" >&2
                exit 3
                """));
        try {
            String id = client.submit(JobSpec.newBuilder().setType("exec.fail").setMaxAttempts(1).build()).getJob().getId();
            Job done = awaitFinished(id);
            assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
            assertThat(done.getLastError()).isEqualTo("exit 3: connecting to the printer\nprinter on fire");
        } finally {
            stop(worker);
        }
    }

    @Test
    void sigtermGivesARunningJobBackOnceEverythingItStartedIsGone() throws Exception {
        Process worker = work("exec.slow", script("slow.sh", "PID_DIR=" + dir + "\n" + SPAWNS_A_CHILD), "--kill-grace", "30s");
        try {
            String id = client.submit("exec.slow", "{}").getId();
            long child = awaitChild(id);
            worker.destroy();
            assertThat(worker.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(isRunning(child)).as("the command's child outlived the worker").isFalse();
            Job job = client.get(id);
            assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
            assertThat(job.getReleases()).isEqualTo(1);
            assertThat(log("exec.slow")).doesNotContain("Exception");
        } finally {
            stop(worker);
        }
    }

    /** Starts a child that outlives the shell unless its whole process group is stopped. */
    private static final String SPAWNS_A_CHILD = """
            payload=$(cat)
            case "$payload" in *quick*) echo '"quick"'; exit 0;; esac
            sleep 300 &
            echo $! > "$PID_DIR/$JOBWIRE_JOB_ID-$JOBWIRE_ATTEMPT.pid"
            wait
            """;

    @Test
    void cancellingARunningCommandStopsItsWholeProcessGroupAndFreesTheSlot() throws Exception {
        Process worker = work("exec.cancel", script("cancel.sh", "PID_DIR=" + dir + "\n" + SPAWNS_A_CHILD),
                "--concurrency", "1");
        try {
            String id = client.submit("exec.cancel", "{}").getId();
            long child = awaitChild(id);
            String next = client.submit("exec.cancel", "{\"quick\": true}").getId();

            client.cancel(id, "not needed");

            await().atMost(scaled(Duration.ofSeconds(30))).until(() -> !isRunning(child));
            Job done = awaitFinished(next);
            assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(done.getResult()).isEqualTo("\"quick\"");
            assertThat(log("exec.cancel")).doesNotContain("Exception").doesNotContain("Stream closed");
        } finally {
            stop(worker);
        }
    }

    @Test
    void aCommandThatIgnoresSigtermIsKilledAfterTheGrace() throws Exception {
        Process worker = work("exec.stubborn", script("stubborn.sh", "PID_DIR=" + dir + "\ntrap '' TERM\n"
                + SPAWNS_A_CHILD), "--concurrency", "1", "--kill-grace", "1s");
        try {
            String id = client.submit("exec.stubborn", "{}").getId();
            long child = awaitChild(id);
            client.cancel(id);
            await().atMost(scaled(Duration.ofSeconds(30))).until(() -> !isRunning(child));
            String next = client.submit("exec.stubborn", "{\"quick\": true}").getId();
            assertThat(awaitFinished(next).getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        } finally {
            stop(worker);
        }
    }

    @Test
    void aCommandPastItsRunTimeoutIsStoppedWithItsWholeProcessGroupAndTheAttemptTimesOut() throws Exception {
        Process worker = work("exec.overtime", script("overtime.sh", "PID_DIR=" + dir + "\n" + SPAWNS_A_CHILD),
                "--concurrency", "1");
        try {
            // long enough for the script to start and write its child's pid, on a busy machine too
            long timeout = Math.max(3, scaled(Duration.ofSeconds(3)).toSeconds());
            String id = client.submit(io.jobwire.api.v1.JobSpec.newBuilder().setType("exec.overtime").setMaxAttempts(1)
                    .setRunTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(timeout)).build()).getJob().getId();
            long child = awaitChild(id);
            await().atMost(scaled(Duration.ofSeconds(30))).until(() -> !isRunning(child));
            awaitFinished(id);
            Job done = client.get(id);
            assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
            assertThat(done.getAttempts(0).getOutcome()).isEqualTo(io.jobwire.api.v1.AttemptOutcome.ATTEMPT_OUTCOME_TIMED_OUT);
            assertThat(done.getLastError()).contains("run timeout of " + timeout + "s");
        } finally {
            stop(worker);
        }
    }

    @Test
    void aLostLeaseStopsTheCommandsWholeProcessGroup() throws Exception {
        Process worker = work("exec.lost", script("lost.sh", "PID_DIR=" + dir + "\n" + SPAWNS_A_CHILD),
                "--concurrency", "1");
        try {
            // a lease of 3 s: the worker heartbeats each second, so it hears of the lost lease within one
            String id = client.submit(JobSpec.newBuilder().setType("exec.lost")
                    .setLeaseDuration(com.google.protobuf.Duration.newBuilder().setSeconds(3)).build()).getJob().getId();
            long child = awaitChild(id);
            fixture.expireLease(id); // the reaper takes it back; the worker's next heartbeat hears LEASE_LOST
            await().atMost(scaled(Duration.ofSeconds(30))).until(() -> !isRunning(child));
        } finally {
            stop(worker);
        }
    }

    @Test
    void progressJsonLinesSetTheProgressDetails() throws Exception {
        Process worker = work("exec.details", script("details.sh", """
                cat > /dev/null
                echo "PROGRESS 30 copying" >&2
                echo 'PROGRESS-JSON {"copied": 3, "of": 10}' >&2
                echo 'PROGRESS-JSON not json' >&2
                sleep 0.3
                echo '{}'
                """));
        try {
            List<String> details = new ArrayList<>();
            Job done = client.submitAndWait(JobSpec.newBuilder().setType("exec.details").build(), Duration.ofSeconds(30),
                    job -> details.add(job.getProgress().getDetails()));
            assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(done.getProgress().getPercent()).isEqualTo(30f);
            assertThat(done.getProgress().getMessage()).isEqualTo("copying");
            assertThat(done.getProgress().getDetails())
                    .as("details of the finished job (stored: %s; seen while running: %s; worker log:%n%s)",
                            client.get(done.getId()).getProgress(), details, log("exec.details"))
                    .isEqualTo("{\"of\": 10, \"copied\": 3}");
            assertThat(log("exec.details")).contains("PROGRESS-JSON not json   (ignored: PROGRESS-JSON takes one JSON object");
        } finally {
            stop(worker);
        }
    }

    @Test
    void aRefusedTokenEndsTheWorkerWithExitThree() throws Exception {
        try (BrokerFixture guarded = BrokerFixture.start(config -> config.tokens(io.jobwire.broker.auth.TokenStore.line(
                io.jobwire.broker.auth.TokenStore.newToken(), "ops", List.of(io.jobwire.broker.auth.Role.ADMIN), List.of())))) {
            Process worker = new ProcessBuilder(JobwireJvm.command(List.of("work", "--type", "exec.refused", "--exec", "true",
                    "--target", "127.0.0.1:" + guarded.broker().port(), "--token", "jw_not-a-real-token")))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("refused.log").toFile()).start();
            try {
                assertThat(worker.waitFor(60, TimeUnit.SECONDS)).as("the worker gave up").isTrue();
                assertThat(worker.exitValue()).isEqualTo(ExitCodes.BROKER_ERROR);
                assertThat(log("refused")).contains("jobwire work: UNAUTHENTICATED").doesNotContain("Exception")
                        .doesNotContain("reconnecting");
            } finally {
                stop(worker);
            }
        }
    }

    private long awaitChild(String jobId) throws IOException {
        Path pidFile = dir.resolve(jobId + "-1.pid");
        await().atMost(scaled(Duration.ofSeconds(30))).until(() -> Files.exists(pidFile) && !Files.readString(pidFile).isBlank());
        return Long.parseLong(Files.readString(pidFile).strip());
    }

    private static boolean isRunning(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) && !isZombie(pid);
    }

    private static boolean isZombie(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
        } catch (IOException e) {
            return true; // gone
        }
    }

    private String log(String type) throws IOException {
        return Files.readString(dir.resolve(type + ".log"));
    }

    private static void stop(Process worker) throws InterruptedException {
        worker.destroy();
        if (!worker.waitFor(20, TimeUnit.SECONDS)) {
            worker.destroyForcibly();
        }
    }
}
