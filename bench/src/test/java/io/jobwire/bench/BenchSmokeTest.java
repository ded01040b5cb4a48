package io.jobwire.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jobwire.broker.testing.JobwireJvm;
import io.jobwire.broker.testing.StockPostgres;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * A short run of the benchmark as users run it (the broker jar as its own process over loopback gRPC),
 * on the embedded PostgreSQL and on the machine's installed PostgreSQL 15 (JIT on by default), which once
 * made the broker twenty times slower while the embedded runs looked fine. It asserts that every job
 * went through each path, not how fast: speed is measured by full runs (BENCHMARKS.md).
 */
class BenchSmokeTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path BROKER_JAR = Path.of("..", "broker", "target", "jobwire.jar");
    private static final int JOBS = 600;

    @BeforeAll
    static void brokerJarIsBuilt() {
        assertThat(BROKER_JAR).as("the broker jar (built by the broker module's package phase)").isRegularFile();
    }

    @Test
    void smokeRunOnTheEmbeddedPostgres() throws Exception {
        assertEveryJobWentThrough(run());
    }

    @Test
    void smokeRunOnTheInstalledPostgres15WithJit() throws Exception {
        Assumptions.assumeTrue(StockPostgres.binaries().isPresent(), "no installed PostgreSQL (CI installs postgresql-15)");
        StockPostgres server = StockPostgres.start();
        // and the fair scenario, small: where each trickle job waited, its legs from the database's clock
        List<JsonNode> lines = run("--database-url", server.jdbcUrl("postgres"), "--scenarios", "fair", "--fair-only",
                "--fair-rounds", "1", "--fair-backlog", "4000", "--fair-trickle-seconds", "1", "--fair-no-drain",
                "--fair-trickle-priority", "1", "--fair-trickle-warmup-seconds", "1", "--fair-busy-work-ms", "20",
                "--fair-busy-concurrency", "10");
        assertEveryJobWentThrough(lines);
        JsonNode fair = lines.stream().filter(line -> line.get("scenario").asText().equals("fair")).findFirst().orElseThrow();
        JsonNode run = fair.get("fairShare").get(0);
        // a second of trickle not measured first (100 jobs): only the measured ones are counted
        assertThat(fair.get("trickleWarmupSeconds").asInt()).isEqualTo(1);
        assertThat(run.get("trickleJobs").asInt()).as(run.toString()).isEqualTo(100);
        assertThat(run.get("whileTheTrickleRan").get("jobsPerSecond").asDouble()).as(run.toString()).isPositive();
        assertThat(run.get("whileTheTrickleRan").get("coresBroker").asDouble()).as(run.toString()).isPositive();
        assertThat(run.get("tricklePriority").asInt()).isEqualTo(1);
        assertThat(run.has("allDonePerSecond")).as("no drain, no rate").isFalse();
        for (String leg : List.of("submitToInsert", "insertToClaim", "claimToHandler")) {
            JsonNode figures = run.get("trickleLegs").get(leg);
            assertThat(figures.get("p99").asDouble()).as(leg).isGreaterThanOrEqualTo(figures.get("p50").asDouble());
        }
        assertThat(run.get("trickleLegs").get("claimToHandler").get("p99").asDouble())
                .as("a handler starts after its claim").isPositive();
        // the trickle jobs submitted before the backlog's last claim: at most all of them (4,000 no-op jobs may
        // be gone before the measured trickle begins)
        assertThat(run.get("whileTheBacklogWaited").get("trickleJobs").asInt()).as(run.toString()).isBetween(0, 100);
        // then again with every slot taken: 20 slots holding each job 0-40 ms
        JsonNode busy = fair.get("everySlotTaken");
        assertThat(busy.get("workMs").asInt()).as(fair.toString()).isEqualTo(20);
        assertThat(busy.get("concurrency").asInt()).isEqualTo(10);
        JsonNode busyRun = busy.get("fairShare").get(0);
        assertThat(busyRun.get("trickleJobs").asInt()).as(busyRun.toString()).isEqualTo(100);
        assertThat(busyRun.get("startP99Ms").asDouble()).as(busyRun.toString()).isPositive();
        assertThat(busyRun.has("allDonePerSecond")).as("the busy part does not drain").isFalse();
        // 4,000 jobs at 20 slots outlast the trickle's two seconds: every measured job was submitted behind them
        JsonNode behind = busyRun.get("whileTheBacklogWaited");
        assertThat(behind.get("trickleJobs").asInt()).as(busyRun.toString()).isEqualTo(100);
        assertThat(behind.get("startP99Ms").asDouble()).as(busyRun.toString())
                .isGreaterThanOrEqualTo(behind.get("startP50Ms").asDouble()).isPositive();
        // 20 slots at 0-40 ms a job run at most 1,000 jobs/s: far fewer than the no-op run's
        assertThat(busyRun.get("whileTheTrickleRan").get("jobsPerSecond").asDouble()).as(busyRun.toString())
                .isPositive().isLessThan(2_000);
    }

    private static void assertEveryJobWentThrough(List<JsonNode> lines) {
        assertThat(lines).extracting(line -> line.get("scenario").asText())
                .contains("throughput.batched", "throughput.single", "latency", "typed", "broker.heap");
        for (JsonNode line : lines) {
            if (line.get("scenario").asText().startsWith("throughput")) {
                assertThat(line.get("jobs").asInt()).isEqualTo(JOBS);
                assertThat(line.get("completedPerSecond").asDouble()).as(line.toString()).isPositive();
            }
            if (line.get("scenario").asText().equals("typed")) {
                assertThat(line.get("withSchemaMedian").asDouble()).as(line.toString()).isPositive();
                assertThat(line.get("ratio").asDouble()).as(line.toString()).isPositive();
            }
            if (line.get("scenario").asText().equals("latency")) {
                assertThat(line.get("measuredJobs").asLong()).as(line.toString()).isPositive();
            }
        }
    }

    /** Runs the bench in-process with tiny numbers and returns its JSON lines. */
    private static List<JsonNode> run(String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("--scenarios", "throughput,latency,typed", "--typed-rounds", "1", "--broker-jar", BROKER_JAR.toString(),
                "--jobs", Integer.toString(JOBS), "--warmup-jobs", "0", "--batch", "500", "--callers", "8",
                "--rate", "200", "--seconds", "2", "--warmup-seconds", "1",
                // a broker living seconds: the first compiler tier starts it sooner (speed is not asserted)
                "--broker-java-options", String.join(" ", JobwireJvm.OPTIONS)));
        args.addAll(List.of(extra));
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream stdout = System.out;
        int exit;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            exit = new CommandLine(new JobwireBench()).execute(args.toArray(String[]::new));
        } finally {
            System.setOut(stdout);
        }
        String output = captured.toString(StandardCharsets.UTF_8);
        stdout.print(output);
        assertThat(exit).as(output).isZero();
        List<JsonNode> lines = new ArrayList<>();
        for (String line : output.lines().filter(line -> line.startsWith("{")).toList()) {
            lines.add(JSON.readTree(line));
        }
        return lines;
    }

    @Test
    void helpTextFormatsWithoutPicocliWarnings() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stderr = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        String usage;
        try {
            usage = new CommandLine(new JobwireBench()).getUsageMessage();
        } finally {
            System.setErr(stderr);
        }
        assertThat(usage).contains("10% less CPU");
        assertThat(err.toString(StandardCharsets.UTF_8)).doesNotContain("picocli WARN");
    }
}
