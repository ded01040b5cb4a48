package io.jobwire.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The Jobwire benchmark: starts PostgreSQL (embedded, or {@code --database-url}) and the broker jar as
 * its own process, runs producers and workers over loopback gRPC, and prints one JSON line per scenario
 * and then a table.
 */
@Command(name = "jobwire-bench", mixinStandardHelpOptions = true,
        description = "Measures Jobwire's throughput, latency and growth, and graphile-worker's throughput on the same database.")
public final class JobwireBench implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(JobwireBench.class);

    @Option(names = "--scenarios", split = ",", description = "Any of throughput, latency, growth, peer, horizon, history, backlog, paused, brokers, typed, quota, keys, rate, fair "
            + "(default: throughput, latency, growth, peer).")
    List<String> scenarios = List.of("throughput", "latency", "growth", "peer");

    @Option(names = "--fair-rounds", description = "Rounds of the fair scenario, each a run with and one without fair share (default: 2).")
    int fairRounds = 2;

    @Option(names = "--fair-only", description = "The fair scenario without its controls (the same backlog on a type "
            + "without fair share, and the trickle as a type of its own).")
    boolean fairOnly;

    @Option(names = "--fair-work-ms", description = "Milliseconds each job of the fair scenario keeps its worker slot "
            + "on average (a sleep in the handler, as a call to another service would, drawn evenly from 0 to twice "
            + "this; default: ${DEFAULT-VALUE}, a no-op).")
    int fairWorkMs = 0;

    @Option(names = "--fair-busy-work-ms", description = "After its no-op rounds the fair scenario runs again with every "
            + "worker slot taken: jobs that keep their slot this long on average, --fair-busy-concurrency slots a worker, "
            + "fair share only, the rest of the backlog deleted once the trickle has started (default: ${DEFAULT-VALUE}; "
            + "0 leaves that part out).")
    int fairBusyWorkMs = 150;

    @Option(names = "--fair-busy-concurrency", description = "Jobs each worker runs at once in the fair scenario's part "
            + "with every slot taken (default: ${DEFAULT-VALUE}).")
    int fairBusyConcurrency = 50;

    @Option(names = "--fair-backlog", description = "Jobs of the fair scenario's first owner, queued before "
            + "the workers start (default: ${DEFAULT-VALUE}).")
    int fairBacklog = 200_000;

    @Option(names = "--fair-trickle-seconds", description = "How long the second owner submits a job every 10 ms "
            + "(default: ${DEFAULT-VALUE}).")
    int fairTrickleSeconds = 10;

    @Option(names = "--fair-trickle-warmup-seconds", description = "How long the trickle runs, not measured, before "
            + "the measured part: its client's connection and the broker's path warm up (default: ${DEFAULT-VALUE}).")
    int fairTrickleWarmupSeconds = 1;

    @Option(names = "--fair-no-drain", description = "The fair scenario stops once the trickle has started (the rest of "
            + "the backlog is deleted, not run; no all-jobs rate): quicker runs of slow jobs.")
    boolean fairNoDrain;

    @Option(names = "--fair-trickle-priority", description = "The trickle's jobs at this priority (default: "
            + "${DEFAULT-VALUE}, the backlog's): above the backlog's, the start latency no order of the queue can beat "
            + "at that load.")
    int fairTricklePriority = 0;

    @Option(names = "--database-url", description = "JDBC URL of the PostgreSQL to use (default: start an embedded one).")
    String databaseUrl;

    @Option(names = "--broker-jar", description = "The broker jar (default: ${DEFAULT-VALUE}).")
    Path brokerJar = Path.of("broker/target/jobwire.jar");

    @Option(names = "--broker-heap", description = "The broker's -Xmx and -Xms (default: ${DEFAULT-VALUE}).")
    String brokerHeap = "512m";

    @Option(names = "--broker-java-options", description = "Extra JVM options for the broker, space-separated (e.g. a profiler).")
    String brokerJavaOptions = "";

    @Option(names = "--broker-cpus", description = "Hold each broker process to this many CPUs, as a container's CPU "
            + "limit does (a cgroup of its own with a CFS quota; needs root and the cgroup cpu controller), e.g. 0.25: "
            + "brokers that are the bottleneck, as when one more broker is what a deployment needs (default: no limit).")
    double brokerCpus;

    @Option(names = "--scrape-interval-ms", description = "Scrape the broker's /metrics every this many ms all through "
            + "the run, as Prometheus would (e.g. 1000; default: ${DEFAULT-VALUE}, none). Needs a broker with --http-port.")
    int scrapeIntervalMs;

    @Option(names = "--jobs", description = "Jobs per throughput run (default: ${DEFAULT-VALUE}).")
    int jobs = 100_000;

    @Option(names = "--warmup-jobs", description = "Jobs per warm-up round through each submit path, and through the "
            + "latency path, before measuring, so both JVMs are compiled (default: ${DEFAULT-VALUE}).")
    int warmupJobs = 30_000;

    @Option(names = "--warmup-rounds", description = "At most this many warm-up rounds; they stop when a round costs "
            + "the JVMs less than 10%% less CPU per job than the one before (default: ${DEFAULT-VALUE}).")
    int warmupRounds = 6;

    @Option(names = "--batch", description = "Jobs per SubmitBatch (default: ${DEFAULT-VALUE}).")
    int batch = 1000;

    @Option(names = "--producers", description = "Concurrent SubmitBatch callers (default: ${DEFAULT-VALUE}).")
    int producers = 2;

    @Option(names = "--typed-rounds", description = "Interleaved rounds of the typed and quota scenarios, each with and without (default: ${DEFAULT-VALUE}).")
    int typedRounds = 3;

    @Option(names = "--callers", description = "Concurrent single-Submit callers (default: ${DEFAULT-VALUE}).")
    int callers = 64;

    @Option(names = "--workers", description = "Worker streams (default: ${DEFAULT-VALUE}).")
    int workers = 2;

    @Option(names = "--concurrency", description = "Jobs each worker runs at once (default: ${DEFAULT-VALUE}).")
    int concurrency = 500;

    @Option(names = "--rate", description = "Submits per second in the latency run (default: ${DEFAULT-VALUE}).")
    int rate = 1000;

    @Option(names = "--seconds", description = "Measured seconds of the latency run (default: ${DEFAULT-VALUE}).")
    int seconds = 30;

    @Option(names = "--warmup-seconds", description = "Unmeasured seconds at the latency run's rate before it "
            + "(default: ${DEFAULT-VALUE}).")
    int warmupSeconds = 10;

    @Option(names = "--growth-rows", description = "Finished and queued rows added for growth (default: ${DEFAULT-VALUE} each).")
    int growthRows = 1_000_000;

    @Option(names = "--growth-jobs", description = "Jobs drained to measure the growth rate (default: ${DEFAULT-VALUE}).")
    int growthJobs = 50_000;

    @Option(names = "--horizon-pinned-minutes", description = "Minutes the horizon run holds a transaction open "
            + "(default: ${DEFAULT-VALUE}).")
    int horizonPinnedMinutes = 10;

    @Option(names = "--horizon-control", description = "The horizon run without opening the transaction: the control.")
    boolean horizonControl;

    @Option(names = "--horizon-window-seconds", description = "The horizon run's measuring window (default: ${DEFAULT-VALUE}).")
    int horizonWindowSeconds = 30;

    @Option(names = "--horizon-warmup-seconds", description = "Unmeasured load before the horizon run's first window "
            + "(default: ${DEFAULT-VALUE}).")
    int horizonWarmupSeconds = 60;

    @Option(names = "--horizon-outstanding", description = "Jobs the horizon run's producers keep submitted and "
            + "unfinished at most (default: ${DEFAULT-VALUE}).")
    int horizonOutstanding = 4000;

    @Option(names = "--backlog-rows", description = "Jobs queued for the backlog run (default: ${DEFAULT-VALUE}).")
    long backlogRows = 10_000_000;

    @Option(names = "--backlog-jobs", description = "Jobs the backlog run drains, from an empty queue and from the "
            + "backlog (default: ${DEFAULT-VALUE}).")
    int backlogJobs = 1_000_000;

    @Option(names = "--paused-rows", description = "Jobs of a paused queue queued ahead of the paused run's "
            + "(default: ${DEFAULT-VALUE}).")
    long pausedRows = 200_000;

    @Option(names = "--paused-jobs", description = "Jobs the paused run drains from another queue of the same type, "
            + "beside the paused queue's and without them (default: ${DEFAULT-VALUE}).")
    int pausedJobs = 100_000;

    @Option(names = "--history-rows", description = "Finished jobs written for the history run (default: ${DEFAULT-VALUE}).")
    long historyRows = 10_000_000;

    @Option(names = "--brokers-rounds", description = "Rounds of one broker then three in the brokers run "
            + "(default: ${DEFAULT-VALUE}).")
    int brokersRounds = 3;

    @Option(names = "--peer-dir", description = "The Node peer benches: graphile-worker, pg-boss, BullMQ (default: ${DEFAULT-VALUE}).")
    Path peerDir = Path.of("bench/peer");

    @Option(names = "--peer-concurrency", description = "graphile-worker concurrentJobs, pg-boss localConcurrency and "
            + "BullMQ worker concurrency (default: ${DEFAULT-VALUE}).")
    int peerConcurrency = 24;

    @Option(names = "--peers", split = ",", description = "Peers of the peer scenario: any of graphile, pgboss, "
            + "bullmq, jobrunr (default: all).")
    List<String> peers = List.of("graphile", "pgboss", "bullmq", "jobrunr");

    @Option(names = "--redis-server", description = "redis-server for BullMQ (default: ${DEFAULT-VALUE}).")
    String redisServer = "/usr/bin/redis-server";

    @Option(names = "--jobrunr-jar", description = "The JobRunr bench (default: ${DEFAULT-VALUE}).")
    Path jobrunrJar = Path.of("bench/jobrunr/target/jobrunr-bench.jar");

    public static void main(String[] args) {
        System.exit(new CommandLine(new JobwireBench()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<Map<String, Object>> results = new ArrayList<>();
        try (BenchDatabase db = BenchDatabase.open(databaseUrl)) {
            log.info("PostgreSQL {} at {} (synchronous_commit={}, fsync={})", db.queryString("SHOW server_version"), db.jdbcUrl(),
                    db.queryString("SHOW synchronous_commit"), db.queryString("SHOW fsync"));
            Path brokerLog = Path.of(System.getProperty("java.io.tmpdir"), "jobwire-bench-broker.log");
            java.time.Duration scrapeInterval = java.time.Duration.ofMillis(scrapeIntervalMs);
            boolean scraping = scrapeIntervalMs > 0;
            try (BrokerProcess broker = BrokerProcess.start(this, db.jdbcUrl(), brokerLog, scraping);
                 Scraper scraper = scraping ? new Scraper(broker.httpPort(), scrapeInterval) : null) {
                log.info("broker pid {} on {} (log in {}){}", broker.pid(), broker.target(), brokerLog,
                        scraping ? ", /metrics scraped every " + scrapeInterval.toMillis() + " ms" : "");
                Scenarios run = new Scenarios(this, db, broker);
                Map<String, Object> batched = null;
                int rounds = 0;
                if (warmupJobs > 0 && warmupRounds > 0) {
                    log.info("warming up with rounds of {} jobs through each submit path", warmupJobs);
                    rounds = run.warmUp(warmupJobs, 1);
                }
                // Latency after one warm-up round (and its own path's warm-up), before the throughput runs:
                // measured after them (half a million jobs more), its p50 came out 0.3-0.5 ms higher, for
                // reasons not yet understood (see BENCHMARKS.md).
                if (scenarios.contains("latency")) {
                    report(json, results, "latency", run.latency());
                }
                if (rounds > 0 && warmupRounds > 1 && (scenarios.contains("throughput") || scenarios.contains("peer"))) {
                    rounds += run.warmUp(warmupJobs, warmupRounds - 1);
                }
                if (scenarios.contains("throughput") || scenarios.contains("peer")) {
                    batched = report(json, results, "throughput.batched", withWarmUp(run.throughputBatched(), rounds));
                }
                if (scenarios.contains("throughput")) {
                    report(json, results, "throughput.single", withWarmUp(run.throughputSingle(), rounds));
                }
                if (scenarios.contains("quota")) {
                    report(json, results, "quota", run.quota());
                }
                if (scenarios.contains("keys")) {
                    report(json, results, "keys", run.keys());
                }
                if (scenarios.contains("rate")) {
                    report(json, results, "rate", run.rate());
                }
                if (scenarios.contains("fair")) {
                    report(json, results, "fair", run.fair());
                }
                if (scenarios.contains("typed")) {
                    report(json, results, "typed", run.typed());
                }
                if (scenarios.contains("horizon")) {
                    report(json, results, "horizon", run.horizon());
                }
                if (scenarios.contains("backlog")) {
                    report(json, results, "backlog", run.backlog());
                }
                if (scenarios.contains("paused")) {
                    report(json, results, "paused", run.paused());
                }
                if (scenarios.contains("history")) {
                    report(json, results, "history", run.history());
                }
                if (scenarios.contains("brokers")) {
                    report(json, results, "brokers", run.brokers());
                }
                if (scenarios.contains("growth")) {
                    report(json, results, "growth", run.growth());
                }
                Map<String, Object> heap = new LinkedHashMap<>();
                heap.put("maxHeap", brokerHeap);
                heap.put("peakUsedMiB", Scenarios.round(broker.peakHeapMiB()));
                heap.put("peakOldGenMiB", Scenarios.round(broker.peakOldGenMiB()));
                if (scenarios.contains("peer")) {
                    for (Map<String, Object> peer : run.peers()) {
                        Object theirs = peer.get("completedPerSecond");
                        if (theirs instanceof Number number && number.doubleValue() > 0) {
                            peer.put("jobwireCompletedPerSecond", batched.get("completedPerSecond"));
                            peer.put("ratio", Scenarios.round(((Number) batched.get("completedPerSecond")).doubleValue()
                                    / number.doubleValue()));
                        }
                        report(json, results, "peer." + peer.get("system"), peer);
                    }
                }
                report(json, results, "broker.heap", heap);
                if (scraper != null) {
                    report(json, results, "metrics.scrape", scraper.figures(scrapeInterval));
                }
            }
        }
        System.out.println();
        System.out.println(table(results));
        return 0;
    }

    private Map<String, Object> withWarmUp(Map<String, Object> result, int rounds) {
        result.put("warmupRounds", rounds);
        result.put("warmupJobsPerRound", warmupJobs);
        return result;
    }

    private static Map<String, Object> report(ObjectMapper json, List<Map<String, Object>> results, String scenario,
                                              Map<String, Object> figures) throws Exception {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("scenario", scenario);
        line.putAll(figures);
        results.add(line);
        System.out.println(json.writeValueAsString(line));
        System.out.flush();
        return figures;
    }

    private static String table(List<Map<String, Object>> results) {
        StringBuilder out = new StringBuilder("| scenario | figures |\n|---|---|\n");
        for (Map<String, Object> result : results) {
            List<String> parts = new ArrayList<>();
            result.forEach((key, value) -> {
                if (!key.equals("scenario")) {
                    parts.add(key + " " + value);
                }
            });
            out.append("| ").append(result.get("scenario")).append(" | ").append(String.join(", ", parts)).append(" |\n");
        }
        return out.toString();
    }
}
