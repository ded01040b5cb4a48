package io.jobwire.broker.reliability;

import io.jobwire.broker.testing.CountsCheck;
import org.jdbi.v3.core.Jdbi;
import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.QueueStats;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.SubmitResponse;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.client.JobWatch;
import io.jobwire.client.JobwireClient;
import io.jobwire.client.JobwireException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Records what producers were told and what workers ran, then checks the promises of docs/ARCHITECTURE.md against
 * the database once the run has drained: no acknowledged job lost, none invented, exactly one accepted
 * finish per job and never from a stale attempt, no overlapping leases, no more executions than attempts,
 * one job per idempotency key, watch streams in order ending in the stored state, Stats equal to the rows,
 * and no concurrency key with more attempts running at once than its limit.
 */
final class Oracle {
    private final String jdbcUrl;
    private final String type;
    private final Map<String, String> acknowledged = new ConcurrentHashMap<>();
    private final Set<String> retriedAfterUnknownOutcome = ConcurrentHashMap.newKeySet();
    private final Map<String, List<WatchEvent>> watched = new ConcurrentHashMap<>();

    private int concurrencyKeys;
    private int concurrencyLimit;
    private int dependencyStride;
    private String rateKey;
    private double ratePerSecond;
    private int rateBurst;

    Oracle(String jdbcUrl, String type) {
        this.jdbcUrl = jdbcUrl;
        this.type = type;
    }

    /** Submits job number i with the concurrency key {@code <type>-key-<i % keys>} and this limit. */
    Oracle withConcurrencyKeys(int keys, int limit) {
        this.concurrencyKeys = keys;
        this.concurrencyLimit = limit;
        return this;
    }

    /**
     * Submits every other job (even numbers) with this rate key, whose limit the caller sets: with
     * concurrency keys too, those jobs have both.
     */
    Oracle withRateKey(String key, double perSecond, int burst) {
        this.rateKey = key;
        this.ratePerSecond = perSecond;
        this.rateBurst = burst;
        return this;
    }

    /**
     * Submits job number i depending on job number {@code i - stride} when that one was acknowledged
     * before (a producer's earlier batch): chains of dependencies across the whole run.
     */
    Oracle withDependencies(int stride) {
        this.dependencyStride = stride;
        return this;
    }

    /**
     * Submits {@code count} jobs in batches with idempotency keys, repeating a batch whose outcome is
     * unknown (the broker was down) until it is answered, as a careful producer does.
     */
    void submit(JobwireClient client, int count, int batch, java.util.function.IntFunction<String> payload) {
        submit(client, 0, count, batch, payload);
    }

    /** Submits jobs number {@code first} to {@code end - 1} (their keys are {@code type-number}). */
    void submit(JobwireClient client, int first, int end, int batch, java.util.function.IntFunction<String> payload) {
        for (int from = first; from < end; from += batch) {
            List<JobSpec> specs = new ArrayList<>();
            for (int i = from; i < Math.min(end, from + batch); i++) {
                JobSpec.Builder spec = JobSpec.newBuilder().setType(type).setIdempotencyKey(type + "-" + i)
                        .setPayload(payload.apply(i)).setMaxAttempts(5)
                        .setLeaseDuration(com.google.protobuf.Duration.newBuilder().setSeconds(2));
                if (concurrencyKeys > 0) {
                    spec.setConcurrencyKey(type + "-key-" + (i % concurrencyKeys)).setConcurrencyLimit(concurrencyLimit);
                }
                if (rateKey != null && i % 2 == 0) {
                    spec.setRateKey(rateKey);
                }
                if (dependencyStride > 0 && i >= dependencyStride) {
                    String earlier = acknowledged.get(type + "-" + (i - dependencyStride));
                    if (earlier != null) {
                        spec.addDependsOn(earlier);
                    }
                }
                specs.add(spec.build());
            }
            submitUntilAnswered(client, specs);
        }
    }

    void submitUntilAnswered(JobwireClient client, List<JobSpec> specs) {
        Instant until = Instant.now().plus(Duration.ofSeconds(90));
        while (true) {
            try {
                List<SubmitResponse> results = client.submitBatch(specs);
                for (int i = 0; i < specs.size(); i++) {
                    acknowledged.put(specs.get(i).getIdempotencyKey(), results.get(i).getJob().getId());
                }
                return;
            } catch (JobwireException e) {
                boolean unknownOutcome = e.code() == io.grpc.Status.Code.UNAVAILABLE
                        || e.code() == io.grpc.Status.Code.DEADLINE_EXCEEDED;
                if (!unknownOutcome || Instant.now().isAfter(until)) {
                    throw e;
                }
                specs.forEach(spec -> retriedAfterUnknownOutcome.add(spec.getIdempotencyKey()));
                sleep(200);
            }
        }
    }

    /** Follows a job with a Watch on a background thread, recording every event. */
    void watch(JobwireClient client, String id) {
        List<WatchEvent> events = new CopyOnWriteArrayList<>();
        watched.put(id, events);
        Thread thread = new Thread(() -> {
            while (true) {
                try (JobWatch watch = client.watch(WatchRequest.newBuilder().addIds(id).build())) {
                    watch.forEachRemaining(events::add);
                    return;
                } catch (JobwireException e) {
                    sleep(200); // the broker went away: watch again, as the contract allows
                }
            }
        }, "oracle-watch-" + id);
        thread.setDaemon(true);
        thread.start();
    }

    Collection<String> acknowledgedIds() {
        return acknowledged.values();
    }

    int retriedSubmits() {
        return retriedAfterUnknownOutcome.size();
    }

    /** True once every acknowledged job has finished. */
    boolean drained() throws SQLException {
        return count("SELECT count(*) FROM jobs WHERE type = '" + type + "' AND state NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')") == 0
                && count("SELECT count(*) FROM jobs WHERE type = '" + type + "'") >= acknowledged.size();
    }

    /**
     * Checks every promise. {@code executions} is the workers' log of started executions ("start ID
     * ATTEMPT" lines); {@code expectedFailed} the ids that must end FAILED (all others SUCCEEDED).
     */
    void check(List<Path> executionLogs, Set<String> expectedFailed, JobwireClient client) throws Exception {
        Map<String, Row> jobs = jobs();
        Set<String> acked = new HashSet<>(acknowledged.values());

        // No acknowledged job lost, none invented, one job per idempotency key.
        assertThat(jobs.keySet()).as("every acknowledged job is stored").containsAll(acked);
        assertThat(acked).as("no job that was never submitted").containsAll(jobs.keySet());
        assertThat(count("SELECT count(*) - count(DISTINCT idempotency_key) FROM jobs WHERE type = '" + type + "'"))
                .as("one job per idempotency key").isZero();

        // Every job finished as expected, with exactly one accepted finish, from its last attempt.
        Map<String, List<AttemptRow>> attempts = attempts();
        for (Row job : jobs.values()) {
            JobState expected = expectedFailed.contains(job.id) ? JobState.JOB_STATE_FAILED : JobState.JOB_STATE_SUCCEEDED;
            assertThat(job.state).as("job %s", job.id).isEqualTo(expected.name().replace("JOB_STATE_", ""));
            List<AttemptRow> history = attempts.getOrDefault(job.id, List.of());
            assertThat(history).as("job %s has one attempt row per claim", job.id).hasSize(job.attempt);
            for (int i = 0; i < history.size(); i++) {
                AttemptRow attempt = history.get(i);
                boolean last = i == history.size() - 1;
                assertThat(attempt.outcome).as("job %s attempt %d", job.id, attempt.attempt).isNotEqualTo("running");
                if (!last) {
                    assertThat(attempt.outcome).as("job %s: only the last attempt may finish it (attempt %d)", job.id,
                            attempt.attempt).isIn("failed", "lease_expired", "released");
                    assertThat(history.get(i + 1).startedAt).as("job %s: attempt %d started before attempt %d ended",
                            job.id, attempt.attempt + 1, attempt.attempt).isAfterOrEqualTo(attempt.finishedAt);
                }
            }
            if (expected == JobState.JOB_STATE_SUCCEEDED) {
                assertThat(history.stream().filter(a -> a.outcome.equals("succeeded")).count())
                        .as("job %s has exactly one accepted completion", job.id).isEqualTo(1);
                assertThat(history.get(history.size() - 1).outcome).isEqualTo("succeeded");
            }
        }

        // No concurrency key ever had more attempts running than its limit: a slot is given back in the
        // finish's commit and taken by a claim after it, so on the database's clock an attempt of a key
        // starts no earlier than the one whose slot it took finished.
        Map<String, List<Instant[]>> perKey = new HashMap<>();
        Map<String, Integer> limits = new HashMap<>();
        query("SELECT j.concurrency_key, j.concurrency_limit, a.started_at, a.finished_at FROM job_attempt_history a "
                + "JOIN jobs j ON j.id = a.job_id WHERE j.type = '" + type + "' AND j.concurrency_key IS NOT NULL", rs -> {
                    limits.put(rs.getString(1), rs.getInt(2));
                    perKey.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(new Instant[] {
                            rs.getTimestamp(3).toInstant(),
                            rs.getTimestamp(4) == null ? Instant.MAX : rs.getTimestamp(4).toInstant()});
                });
        perKey.forEach((key, intervals) -> {
            record Event(Instant at, int change) {
            }
            List<Event> events = new ArrayList<>();
            intervals.forEach(i -> {
                events.add(new Event(i[0], 1));
                events.add(new Event(i[1], -1));
            });
            // at one instant, an end before a start: the slot was given back first
            events.sort(java.util.Comparator.comparing(Event::at).thenComparingInt(Event::change));
            int running = 0;
            int most = 0;
            for (Event event : events) {
                running += event.change();
                most = Math.max(most, running);
            }
            StringBuilder shown = new StringBuilder();
            intervals.stream().sorted((x, y) -> x[0].compareTo(y[0]))
                    .forEach(i -> shown.append("\n  ").append(i[0]).append(" .. ").append(i[1]));
            assertThat(most).as("concurrency key %s never ran more than its limit at once; its attempts:%s", key, shown)
                    .isLessThanOrEqualTo(limits.get(key));
        });
        // No window of the rate key's starts held more than its bucket allows, whichever broker let them in
        if (rateKey != null) {
            List<Double> starts = new ArrayList<>();
            query("SELECT extract(epoch FROM a.started_at) FROM job_attempt_history a JOIN jobs j ON j.id = a.job_id "
                    + "WHERE j.type = '" + type + "' AND j.rate_key = '" + rateKey + "' ORDER BY a.started_at",
                    rs -> starts.add(rs.getDouble(1)));
            assertThat(starts).as("the jobs of rate key %s ran", rateKey).hasSizeGreaterThanOrEqualTo(acknowledged.size() / 2);
            assertThat(io.jobwire.broker.dispatch.RateLimitTest.mostOver(starts.stream().mapToDouble(Double::doubleValue).toArray(),
                    ratePerSecond, rateBurst)).as("starts of rate key %s beyond its bucket in the worst window", rateKey)
                    .isLessThanOrEqualTo(0);
        }
        if (concurrencyKeys > 0) {
            assertThat(perKey).as("the jobs had concurrency keys").hasSize(concurrencyKeys);
        }

        // No dependent started before the jobs it depends on succeeded (database times).
        long[] early = {0};
        long[] dependents = {0};
        query("SELECT count(*) FILTER (WHERE att.started_at < dep.finished_at OR dep.finished_at IS NULL "
                + "OR dep.state <> 'SUCCEEDED'), count(DISTINCT j.id) FROM jobs j CROSS JOIN LATERAL unnest(j.depends_on) d "
                + "JOIN jobs dep ON dep.id = d JOIN job_attempt_history att ON att.job_id = j.id WHERE j.type = '" + type + "'",
                rs -> {
                    early[0] = rs.getLong(1);
                    dependents[0] = rs.getLong(2);
                });
        assertThat(early[0]).as("attempts that started before a dependency succeeded").isZero();
        if (dependencyStride > 0) {
            assertThat(dependents[0]).as("jobs that waited for others and ran").isPositive();
        }
        assertThat(jobs.values()).as("no job is left waiting").noneMatch(job -> job.state.equals("WAITING"));

        // Executions never above attempts.
        Map<String, Integer> executions = new HashMap<>();
        for (Path log : executionLogs) {
            if (Files.exists(log)) {
                for (String line : Files.readAllLines(log)) {
                    String[] fields = line.trim().split(" ");
                    if (fields.length == 3 && fields[0].equals("start")) {
                        executions.merge(fields[1], 1, Integer::sum);
                    }
                }
            }
        }
        executions.forEach((id, runs) -> {
            Row job = jobs.get(id);
            if (job != null) {
                assertThat(runs).as("job %s ran no more often than it was claimed", id).isLessThanOrEqualTo(job.attempt);
            }
        });

        // Watch streams follow the job life in order and end with the stored state.
        for (Map.Entry<String, List<WatchEvent>> entry : watched.entrySet()) {
            List<Job> events = entry.getValue().stream().filter(WatchEvent::hasJob).map(WatchEvent::getJob).toList();
            assertThat(events).as("watch of job %s", entry.getKey()).isNotEmpty();
            for (int i = 1; i < events.size(); i++) {
                assertThat(events.get(i).getVersion()).as("watch of %s never goes back", entry.getKey())
                        .isGreaterThanOrEqualTo(events.get(i - 1).getVersion());
            }
            Job last = events.get(events.size() - 1);
            assertThat(last.getState().name().replace("JOB_STATE_", "")).isEqualTo(jobs.get(entry.getKey()).state);
            assertThat(last.getVersion()).isEqualTo(jobs.get(entry.getKey()).version);
        }

        // Stats agree with the rows once quiet.
        QueueStats stats = client.stats(StatsRequest.newBuilder().setType(type).build()).getQueues(0);
        assertThat(stats.getSucceeded()).isEqualTo(jobs.values().stream().filter(j -> j.state.equals("SUCCEEDED")).count());
        assertThat(stats.getFailed()).isEqualTo(jobs.values().stream().filter(j -> j.state.equals("FAILED")).count());
        assertThat(stats.getAttempts()).isEqualTo(jobs.values().stream().mapToLong(j -> j.attempt).sum());
        assertThat(stats.getQueued() + stats.getRunning()).isZero();
        // And so do the counts behind them, for every owner, type, queue, state and bucket.
        CountsCheck.assertCountsMatchJobs(Jdbi.create(jdbcUrl));
    }

    /**
     * The fires of an interval schedule whose jobs are this Oracle's type: each fire made one job (no two
     * jobs of one fire time) and none was lost (consecutive fire times exactly {@code every} apart), from
     * the jobs' idempotency keys {@code schedule:<name>:<fire time>} in the database. Returns the fires.
     */
    List<Instant> checkScheduleFires(String schedule, Duration every) throws SQLException {
        String prefix = "schedule:" + schedule + ":";
        List<String> keys = new ArrayList<>();
        query("SELECT idempotency_key FROM jobs WHERE type = '" + type + "' AND idempotency_key LIKE '" + prefix + "%'",
                rs -> keys.add(rs.getString(1)));
        List<Instant> fires = keys.stream().map(key -> Instant.parse(key.substring(prefix.length()))).sorted().toList();
        assertThat(new HashSet<>(fires)).as("no fire of %s doubled", schedule).hasSameSizeAs(fires);
        for (int i = 1; i < fires.size(); i++) {
            assertThat(Duration.between(fires.get(i - 1), fires.get(i))).as("no fire of %s lost: %s", schedule, fires)
                    .isEqualTo(every);
        }
        assertThat(count("SELECT count(*) FROM jobs WHERE type = '" + type + "'"))
                .as("every job of the type came from a fire").isEqualTo(fires.size());
        return fires;
    }

    private record Row(String id, String state, int attempt, long version) {
    }

    private record AttemptRow(int attempt, String outcome, Instant startedAt, Instant finishedAt) {
    }

    private Map<String, Row> jobs() throws SQLException {
        Map<String, Row> rows = new HashMap<>();
        query("SELECT id, state, attempt, version FROM jobs WHERE type = '" + type + "'", rs -> rows.put(rs.getString(1),
                new Row(rs.getString(1), rs.getString(2), rs.getInt(3), rs.getLong(4))));
        return rows;
    }

    private Map<String, List<AttemptRow>> attempts() throws SQLException {
        Map<String, List<AttemptRow>> rows = new HashMap<>();
        query("SELECT a.job_id, a.attempt, a.outcome, a.started_at, a.finished_at FROM job_attempt_history a "
                + "JOIN jobs j ON j.id = a.job_id WHERE j.type = '" + type + "' ORDER BY a.job_id, a.attempt",
                rs -> rows.computeIfAbsent(rs.getString(1), id -> new ArrayList<>()).add(new AttemptRow(rs.getInt(2),
                        rs.getString(3), rs.getTimestamp(4).toInstant(),
                        rs.getTimestamp(5) == null ? Instant.MAX : rs.getTimestamp(5).toInstant())));
        return rows;
    }

    long count(String sql) throws SQLException {
        long[] value = new long[1];
        query(sql, rs -> value[0] = rs.getLong(1));
        return value[0];
    }

    private interface RowHandler {
        void row(ResultSet rs) throws SQLException;
    }

    private void query(String sql, RowHandler handler) throws SQLException {
        try (Connection connection = DriverManager.getConnection(jdbcUrl);
             Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery(sql)) {
            while (rs.next()) {
                handler.row(rs);
            }
        }
    }

    /** A worker script that logs each execution start, then runs {@code body}. */
    static Path script(Path dir, String name, Path executionLog, String body) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, "#!/bin/sh\necho \"start $JOBWIRE_JOB_ID $JOBWIRE_ATTEMPT\" >> " + executionLog + "\n" + body);
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
