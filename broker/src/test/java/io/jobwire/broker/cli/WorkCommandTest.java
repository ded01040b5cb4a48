package io.jobwire.broker.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.broker.testing.BrokerFixture;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jobwire work --exec} as a real process turning shell scripts into workers. */
class WorkCommandTest {
    private static BrokerFixture fixture;
    private static JobwireClient client;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        fixture = BrokerFixture.start();
        client = JobwireClient.connect("127.0.0.1:" + fixture.broker().port());
    }

    @AfterAll
    static void stop() {
        client.close();
        fixture.close();
    }

    private Path script(String name, String body) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, "#!/bin/sh\n" + body);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }

    private Process work(String type, Path script) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                JobwireCommand.class.getName(), "work", "--type", type, "--exec", script.toString(),
                "--concurrency", "2", "--target", "127.0.0.1:" + fixture.broker().port(), "--drain-timeout", "2s"));
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
            assertThat(done.getLastError()).contains("exit 3").contains("printer on fire").contains("connecting to the printer");
        } finally {
            stop(worker);
        }
    }

    @Test
    void sigtermGivesARunningJobBack() throws Exception {
        Process worker = work("exec.slow", script("slow.sh", "cat > /dev/null\nsleep 60\necho done\n"));
        try {
            String id = client.submit("exec.slow", "{}").getId();
            await().atMost(Duration.ofSeconds(30)).until(() -> client.get(id).getState() == JobState.JOB_STATE_RUNNING);
            worker.destroy();
            assertThat(worker.waitFor(20, TimeUnit.SECONDS)).isTrue();
            Job job = client.get(id);
            assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
            assertThat(job.getReleases()).isEqualTo(1);
        } finally {
            stop(worker);
        }
    }

    private static void stop(Process worker) throws InterruptedException {
        worker.destroy();
        if (!worker.waitFor(20, TimeUnit.SECONDS)) {
            worker.destroyForcibly();
        }
    }
}
