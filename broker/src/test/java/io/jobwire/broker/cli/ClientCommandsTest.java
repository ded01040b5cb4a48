package io.jobwire.broker.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The jobwire client commands, run in-process against a real broker. */
class ClientCommandsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    /** What one command printed and returned. */
    record Run(int exit, String out, String err) {
        JsonNode json() throws Exception {
            return JSON.readTree(out);
        }
    }

    static Run jobwire(String... args) {
        return jobwire(fixture, args);
    }

    /** Runs {@code jobwire args --target (the broker)} in-process. */
    static Run jobwire(BrokerFixture broker, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine commandLine = JobwireCommand.commandLine()
                .setOut(new PrintWriter(out, true))
                .setErr(new PrintWriter(err, true));
        String[] withTarget = new String[args.length + 2];
        System.arraycopy(args, 0, withTarget, 0, args.length);
        withTarget[args.length] = "--target";
        withTarget[args.length + 1] = "127.0.0.1:" + broker.broker().port();
        int exit = commandLine.execute(withTarget);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void submitPrintsTheJobWithEveryOption() throws Exception {
        Run run = jobwire("submit", "--type", "cli.options", "--payload", "{\"n\":1}", "--queue", "bulk",
                "--priority", "7", "--delay", "1h", "--key", "k-1", "--max-attempts", "3", "--lease", "45s",
                "--run-timeout", "10m", "--label", "team=core", "--label", "env=test");
        assertThat(run.exit()).isZero();
        JsonNode job = run.json();
        assertThat(job.get("type").asText()).isEqualTo("cli.options");
        assertThat(job.get("queue").asText()).isEqualTo("bulk");
        assertThat(job.get("priority").asInt()).isEqualTo(7);
        assertThat(job.get("maxAttempts").asInt()).isEqualTo(3);
        assertThat(job.get("leaseDuration").asText()).isEqualTo("45s");
        assertThat(job.get("runTimeout").asText()).isEqualTo("600s");
        assertThat(job.get("labels").get("env").asText()).isEqualTo("test");
        assertThat(job.get("idempotencyKey").asText()).isEqualTo("k-1");
        String id = job.get("id").asText();
        assertThat(fixture.queryString("SELECT payload::text FROM jobs WHERE id = " + id)).isEqualTo("{\"n\": 1}");
        assertThat(fixture.queryLong("SELECT extract(epoch FROM run_at - created_at)::bigint FROM jobs WHERE id = " + id))
                .isBetween(3595L, 3600L);

        assertThat(job.get("created").asBoolean()).isTrue();
        assertThat(run.err()).isEmpty();

        Run again = jobwire("submit", "--type", "cli.options", "--key", "k-1");
        assertThat(again.json().get("id").asText()).as("same idempotency key, same job").isEqualTo(id);
        assertThat(again.json().get("created").asBoolean()).isFalse();
        assertThat(again.err()).isEqualTo("jobwire submit: job " + id + " already has the key \"k-1\"; nothing new was "
                + "created (\"created\": false)" + System.lineSeparator());
    }

    @Test
    void fileAndArgumentErrorsAreOneLineAndExit64() {
        Run missingFile = jobwire("submit", "--type", "cli.bad", "--payload", "@/no/such/payload.json");
        assertThat(missingFile.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(missingFile.err()).isEqualTo("jobwire submit: --payload @/no/such/payload.json: no such file"
                + System.lineSeparator());

        Run notJson = jobwire("submit", "--type", "cli.bad", "--payload", "{oops");
        assertThat(notJson.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(notJson.err()).startsWith("jobwire submit: --payload: not valid JSON").hasLineCount(1);

        Run badDelay = jobwire("submit", "--type", "cli.bad", "--delay", "soon");
        assertThat(badDelay.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(badDelay.err()).contains("'soon' is not a duration").contains("--help").hasLineCount(1);

        Run unknownOption = jobwire("list", "--colour", "red");
        assertThat(unknownOption.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(unknownOption.err()).contains("--colour").hasLineCount(1);

        Run missingBatch = jobwire("submit", "--batch", "@/no/such/jobs.ndjson");
        assertThat(missingBatch.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(missingBatch.err()).hasLineCount(1).doesNotContain("Exception");

        for (Run run : java.util.List.of(missingFile, notJson, badDelay, unknownOption, missingBatch)) {
            assertThat(run.err()).doesNotContain("Exception").doesNotContain("\tat ");
        }
        assertThat(fixture.queryLong("SELECT count(*) FROM jobs WHERE type = 'cli.bad'")).isZero();
    }

    @Test
    void submitBatchSendsEveryLineThroughSubmitBatch(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("jobs.ndjson");
        Files.writeString(file, """
                {"type": "cli.batch", "payload": {"n": 1}, "labels": {"run": "b1"}}

                {"type": "cli.batch", "payload": "{\\"n\\": 2}", "priority": 5, "idempotencyKey": "batch-2"}
                {"type": "cli.batch", "queue": "bulk", "labels": {"run": "b1"}}
                """);
        Run run = jobwire("submit", "--batch", file.toString());
        assertThat(run.exit()).as(run.err()).isZero();
        java.util.List<JsonNode> lines = new java.util.ArrayList<>();
        for (String line : run.out().lines().toList()) {
            lines.add(JSON.readTree(line));
        }
        assertThat(lines).hasSize(3).allSatisfy(job -> assertThat(job.get("created").asBoolean()).isTrue());
        assertThat(fixture.queryString("SELECT string_agg(payload::text || ' ' || priority || ' ' || queue, ', ' ORDER BY id)"
                + " FROM jobs WHERE type = 'cli.batch'")).isEqualTo("{\"n\": 1} 0 default, {\"n\": 2} 5 default, {} 0 bulk");

        Files.writeString(file, "{\"type\": \"cli.batch.ids\"}\n{\"type\": \"cli.batch.ids\"}\n");
        Run quiet = jobwire("submit", "--batch", file.toString(), "-q");
        assertThat(quiet.exit()).as(quiet.err()).isZero();
        assertThat(quiet.out()).as("-q: one id per line").isEqualTo(fixture.queryString(
                "SELECT string_agg(id::text, E'\\n' ORDER BY id) || E'\\n' FROM jobs WHERE type = 'cli.batch.ids'"));

        Path bad = dir.resolve("bad.ndjson");
        Files.writeString(bad, "{\"type\": \"cli.batch.bad\"}\n{\"type\": \"cli.batch.bad\", \"colour\": 1}\n");
        Run refused = jobwire("submit", "--batch", bad.toString());
        assertThat(refused.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(refused.err()).startsWith("jobwire submit: --batch line 2: not a job spec").hasLineCount(1);
        assertThat(fixture.queryLong("SELECT count(*) FROM jobs WHERE type = 'cli.batch.bad'")).isZero();
    }

    @Test
    void listFiltersByPayloadContents() throws Exception {
        String wanted = jobwire("submit", "--type", "cli.contains", "--payload", "{\"customer\": \"c-42\", \"n\": 1}")
                .json().get("id").asText();
        jobwire("submit", "--type", "cli.contains", "--payload", "{\"customer\": \"c-7\"}");
        Run run = jobwire("list", "--type", "cli.contains", "--payload-contains", "{\"customer\": \"c-42\"}", "--json");
        assertThat(run.exit()).isZero();
        assertThat(run.out().lines()).hasSize(1);
        assertThat(JSON.readTree(run.out()).get("id").asText()).isEqualTo(wanted);
    }

    @Test
    void waitingOnATypeNoWorkerServesSaysSoAtOnceAndAnExplicitTimeoutEndsIt() {
        Run run = jobwire("submit", "--type", "cli.nobody", "--wait", "--timeout", "2s");
        assertThat(run.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(run.err()).contains("jobwire submit: no worker serves type cli.nobody right now; waiting for one for up to 2s")
                .contains("did not finish within --timeout 2s (it is QUEUED)");
        assertThat(run.out()).isEmpty();
    }

    @Test
    void submitReadsThePayloadFromAFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("payload.json");
        Files.writeString(file, "{\"from\":\"file\",\"ünïcode\":\"✓\"}");
        Run run = jobwire("submit", "--type", "cli.file", "--payload", "@" + file);
        assertThat(run.exit()).isZero();
        Run get = jobwire("get", run.json().get("id").asText());
        assertThat(get.json().get("payload").get("ünïcode").asText()).isEqualTo("✓");
    }

    @Test
    void submitWaitPrintsTheResultAndExitsByOutcome() throws Exception {
        RawWorker worker = fixture.connectWorker("cli-waiter", 2, "cli.wait");
        CompletableFuture<Run> succeeded = CompletableFuture.supplyAsync(
                () -> jobwire("submit", "--type", "cli.wait", "--payload", "{\"a\":2}", "--wait"));
        AssignedJob job = worker.take(1).get(0);
        worker.progress(job.getLease(), 50, "half way", "");
        // A watch shows rows as stored and coalesces a burst of changes to one job into one read: give the
        // CLI's watch time to show the RUNNING row before the job moves on, or it may only ever see SUCCEEDED.
        Thread.sleep(300);
        worker.complete(job.getLease(), "{\"sum\":42}");
        Run done = succeeded.get();
        assertThat(done.exit()).isEqualTo(ExitCodes.OK);
        assertThat(done.json().get("sum").asInt()).isEqualTo(42);
        assertThat(done.err()).contains("RUNNING").contains("50%").doesNotContain("no worker serves");
        assertThat(done.err().strip().lines().reduce((a, b) -> b).orElseThrow()).as("the last line")
                .endsWith("SUCCEEDED 100% half way");

        CompletableFuture<Run> failed = CompletableFuture.supplyAsync(
                () -> jobwire("submit", "--type", "cli.wait", "--wait"));
        AssignedJob second = worker.take(1).get(0);
        worker.fail(second.getLease(), "disk full", false);
        Run failure = failed.get();
        assertThat(failure.exit()).isEqualTo(ExitCodes.JOB_FAILED);
        assertThat(failure.err()).contains("failed").contains("disk full");

        CompletableFuture<Run> cancelled = CompletableFuture.supplyAsync(
                () -> jobwire("submit", "--type", "cli.wait", "--wait"));
        AssignedJob third = worker.take(1).get(0);
        assertThat(jobwire("cancel", third.getLease().getJobId(), "--reason", "no longer needed").exit()).isZero();
        Run cancellation = cancelled.get();
        assertThat(cancellation.exit()).isEqualTo(ExitCodes.JOB_CANCELLED);
        assertThat(cancellation.err()).contains("cancelled").contains("no longer needed");
    }

    @Test
    void holdReleaseCancelRetryChangeTheState() throws Exception {
        String id = jobwire("submit", "--type", "cli.states").json().get("id").asText();
        assertThat(jobwire("hold", id).json().get("state").asText()).isEqualTo("JOB_STATE_HELD");
        assertThat(jobwire("release", id).json().get("state").asText()).isEqualTo("JOB_STATE_QUEUED");
        assertThat(jobwire("cancel", id).json().get("state").asText()).isEqualTo("JOB_STATE_CANCELLED");
        assertThat(jobwire("retry", id).json().get("state").asText()).isEqualTo("JOB_STATE_QUEUED");
        assertThat(fixture.queryString("SELECT state FROM jobs WHERE id = " + id)).isEqualTo("QUEUED");
    }

    @Test
    void listShowsATableOrJsonLines() throws Exception {
        String first = jobwire("submit", "--type", "cli.list", "--label", "batch=7").json().get("id").asText();
        String second = jobwire("submit", "--type", "cli.list", "--label", "batch=7").json().get("id").asText();
        jobwire("submit", "--type", "cli.list", "--label", "batch=8");

        Run table = jobwire("list", "--type", "cli.list", "--label", "batch=7");
        assertThat(table.exit()).isZero();
        assertThat(table.out().lines()).hasSize(3);
        assertThat(table.out().lines().findFirst().orElseThrow()).startsWith("ID").contains("STATE");
        assertThat(table.out()).contains(first).contains(second);

        Run json = jobwire("list", "--type", "cli.list", "--state", "queued", "--json", "--limit", "2");
        assertThat(json.out().lines()).hasSize(2);
        for (String line : json.out().lines().toList()) {
            assertThat(JSON.readTree(line).get("state").asText()).isEqualTo("JOB_STATE_QUEUED");
        }
    }

    @Test
    void watchFollowsAJobToItsEnd() throws Exception {
        RawWorker worker = fixture.connectWorker("cli-watch", 1, "cli.watch");
        String id = jobwire("submit", "--type", "cli.watch").json().get("id").asText();
        CompletableFuture<Run> watching = CompletableFuture.supplyAsync(() -> jobwire("watch", id));
        AssignedJob job = worker.take(1).get(0);
        worker.complete(job.getLease(), "\"done\"");
        Run watch = watching.get();
        assertThat(watch.exit()).isZero();
        assertThat(watch.out()).contains(id + " cli.watch SUCCEEDED").contains("result \"done\"");
    }

    @Test
    void statsAndTypesShowWhatTheBrokerKnows() throws Exception {
        fixture.connectWorker("cli-stats-worker", 3, "cli.stats");
        jobwire("submit", "--type", "cli.stats");
        Run stats = jobwire("stats", "--type", "cli.stats");
        assertThat(stats.exit()).isZero();
        assertThat(stats.out()).contains("cli.stats").contains("QUEUED");
        Run json = jobwire("stats", "--type", "cli.stats", "--json");
        assertThat(json.json().get("queues").get(0).get("queued").asLong()).isEqualTo(1);
        Run types = jobwire("types", "--json");
        assertThat(types.out()).contains("cli.stats");
    }

    @Test
    void tokenCommandPrintsATokenAndItsHashedLine() {
        StringWriter out = new StringWriter();
        int exit = JobwireCommand.commandLine().setOut(new PrintWriter(out, true))
                .execute("token", "--principal", "shop", "--role", "submit,work", "--types", "email.*");
        assertThat(exit).isZero();
        String token = out.toString().lines().filter(l -> l.startsWith("token: ")).findFirst().orElseThrow().substring(7);
        String line = out.toString().lines().filter(l -> l.startsWith("tokens-file line: ")).findFirst().orElseThrow()
                .substring("tokens-file line: ".length());
        assertThat(line).doesNotContain(token).endsWith(" shop submit,work email.*");
        var principal = io.jobwire.broker.auth.TokenStore.parse(line, "test").authenticate(token).orElseThrow();
        assertThat(principal.name()).isEqualTo("shop");
        assertThat(JobwireCommand.commandLine().setErr(new PrintWriter(new StringWriter()))
                .execute("token", "--principal", "shop", "--role", "root")).isEqualTo(ExitCodes.USAGE);
    }

    @Test
    void tokenWithATokensFileAppendsTheLineAndPrintsOnlyTheToken(@TempDir Path dir) throws Exception {
        Path tokens = dir.resolve("tokens.txt");
        StringWriter first = new StringWriter();
        assertThat(JobwireCommand.commandLine().setOut(new PrintWriter(first, true))
                .execute("token", "--principal", "shop", "--role", "submit", "--tokens-file", tokens.toString())).isZero();
        StringWriter second = new StringWriter();
        assertThat(JobwireCommand.commandLine().setOut(new PrintWriter(second, true))
                .execute("token", "--principal", "ops", "--role", "admin", "--tokens-file", tokens.toString())).isZero();
        String shopToken = first.toString().strip();
        assertThat(shopToken).startsWith("jw_").doesNotContain("\n");
        var store = io.jobwire.broker.auth.TokenStore.fromFile(tokens);
        assertThat(store.authenticate(shopToken).orElseThrow().name()).isEqualTo("shop");
        assertThat(store.authenticate(second.toString().strip()).orElseThrow().name()).isEqualTo("ops");
        assertThat(Files.readString(tokens)).doesNotContain(shopToken);
    }

    @Test
    void submitQuietPrintsOnlyTheId() throws Exception {
        Run run = jobwire("submit", "--type", "cli.quiet", "-q");
        assertThat(run.exit()).isZero();
        String id = run.out().strip();
        assertThat(id).matches("\\d+");
        assertThat(jobwire("get", id).json().get("type").asText()).isEqualTo("cli.quiet");
    }

    @Test
    void errorsPrintTheStatusAndExitNonZeroWithoutAStackTrace() {
        Run missing = jobwire("get", "987654");
        assertThat(missing.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(missing.err()).contains("NOT_FOUND").contains("job 987654 does not exist").doesNotContain("Exception");

        Run invalid = jobwire("submit", "--type", "bad type");
        assertThat(invalid.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(invalid.err()).contains("INVALID_ARGUMENT").contains("job.type");

        Run usage = jobwire("submit");
        assertThat(usage.exit()).isEqualTo(ExitCodes.USAGE);

        StringWriter err = new StringWriter();
        int unreachable = JobwireCommand.commandLine().setErr(new PrintWriter(err, true)).setOut(new PrintWriter(new StringWriter()))
                .execute("get", "1", "--target", "127.0.0.1:1", "--timeout", "3s");
        assertThat(unreachable).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(err.toString()).contains("UNAVAILABLE").doesNotContain("Exception");
    }
}
