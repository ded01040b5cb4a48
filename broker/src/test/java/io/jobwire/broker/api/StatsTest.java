package io.jobwire.broker.api;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.Fail;
import io.jobwire.api.v1.Hello;
import io.jobwire.api.v1.HoldRequest;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.JobTypeInfo;
import io.jobwire.api.v1.JobTypeSpec;
import io.jobwire.api.v1.ListJobTypesRequest;
import io.jobwire.api.v1.QueueStats;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.StatsResponse;
import io.jobwire.api.v1.WorkerInfo;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Stats and ListJobTypes against a real broker: counts checked against the jobs table, the oldest wait,
 * the filters, the connected workers, and the registry of announced job types.
 */
class StatsTest {
    private static final String RESIZE = "img.resize";
    private static final String MAIL = "mail.send";
    private static final String DEFAULT = "default";
    private static final String BULK = "bulk";

    /** What the workload leaves in one (type, queue); every number differs so mix-ups show. */
    private record Plan(String type, String queue, int running, int succeeded, int failed, int cancelled, int held,
                        int queued, int scheduled) {
        String key() {
            return type + "/" + queue;
        }
    }

    private static final List<Plan> PLANS = List.of(
            new Plan(RESIZE, DEFAULT, 3, 4, 1, 2, 1, 2, 1),
            new Plan(RESIZE, BULK, 1, 2, 2, 1, 2, 1, 2),
            new Plan(MAIL, DEFAULT, 2, 1, 1, 3, 1, 3, 1),
            new Plan(MAIL, BULK, 1, 3, 1, 1, 3, 0, 2));

    /** The counts of one (type, queue), in the fields of QueueStats. */
    private record Counts(long queued, long scheduled, long running, long succeeded, long failed, long cancelled,
                          long held, long attempts, long attemptErrors) {
        static Counts of(QueueStats stats) {
            return new Counts(stats.getQueued(), stats.getScheduled(), stats.getRunning(), stats.getSucceeded(),
                    stats.getFailed(), stats.getCancelled(), stats.getHeld(), stats.getAttempts(),
                    stats.getAttemptErrors());
        }
    }

    @Test
    void statsMatchTheJobsTableAfterAMixedWorkloadAndListConnectedWorkers() {
        try (BrokerFixture fixture = BrokerFixture.start()) {
            RawWorker busy = fixture.connectWorker("busy-worker", 30, RESIZE, MAIL);
            String reapedId = buildMixedWorkload(fixture, busy);
            RawWorker idle = fixture.connectWorker("idle-worker", 5, "report.render");
            idle.credit(2);

            // Counts, computed independently from the rows, match Stats for every (type, queue).
            Map<String, Counts> expected = countsFromRows(fixture);
            StatsResponse stats = fixture.jobs().stats(StatsRequest.getDefaultInstance());
            Map<String, Counts> actual = new TreeMap<>();
            stats.getQueuesList().forEach(row -> actual.put(row.getType() + "/" + row.getQueue(), Counts.of(row)));
            assertThat(actual).isEqualTo(expected);
            // And the rows hold what the workload planned: every state in every (type, queue).
            for (Plan plan : PLANS) {
                boolean reaped = plan.type().equals(RESIZE) && plan.queue().equals(DEFAULT);
                int fromReaper = reaped ? 1 : 0;
                assertThat(actual.get(plan.key())).as(plan.key()).isEqualTo(new Counts(
                        plan.queued() + plan.scheduled() + fromReaper, plan.scheduled(),
                        plan.running() - fromReaper, plan.succeeded(), plan.failed(), plan.cancelled(), plan.held(),
                        plan.running() + plan.succeeded() + 2L * plan.failed(), 2L * plan.failed() + fromReaper));
            }
            assertThat(fixture.queryLong("SELECT attempt FROM jobs WHERE id = " + reapedId)).isEqualTo(1);

            // The oldest due queued job of img.resize/default has waited 60 s; bulk mail has none due.
            String oldest = fixture.queryString("SELECT min(id) FROM jobs WHERE type = '" + RESIZE
                    + "' AND queue = 'default' AND state = 'QUEUED' AND run_at <= now() AND attempt = 0");
            fixture.setRunAt(oldest, "now() - interval '60 seconds'");
            StatsResponse aged = fixture.jobs().stats(StatsRequest.getDefaultInstance());
            Duration age = oldestQueuedAge(aged, RESIZE, DEFAULT);
            assertThat(age).isBetween(Duration.ofSeconds(60), Duration.ofSeconds(65));
            assertThat(oldestQueuedAge(aged, MAIL, BULK)).isZero();
            assertThat(oldestQueuedAge(aged, MAIL, DEFAULT)).isPositive().isLessThan(Duration.ofSeconds(30));

            // Filters narrow the rows.
            assertThat(fixture.jobs().stats(StatsRequest.newBuilder().setType(MAIL).build()).getQueuesList())
                    .extracting(QueueStats::getQueue).containsExactly(BULK, DEFAULT);
            assertThat(fixture.jobs().stats(StatsRequest.newBuilder().setType(MAIL).build()).getQueuesList())
                    .extracting(QueueStats::getType).containsOnly(MAIL);
            assertThat(fixture.jobs().stats(StatsRequest.newBuilder().setQueue(BULK).build()).getQueuesList())
                    .extracting(row -> row.getType() + "/" + row.getQueue())
                    .containsExactly(RESIZE + "/" + BULK, MAIL + "/" + BULK);
            List<QueueStats> one = fixture.jobs().stats(StatsRequest.newBuilder().setType(RESIZE).setQueue(BULK)
                    .build()).getQueuesList();
            assertThat(one).hasSize(1);
            assertThat(Counts.of(one.get(0))).isEqualTo(expected.get(RESIZE + "/" + BULK));
            assertThat(fixture.jobs().stats(StatsRequest.newBuilder().setType("no.such.type").build())
                    .getQueuesList()).isEmpty();

            // Both workers are listed with what they hold and can take (refreshed every 200 ms).
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() -> {
                StatsResponse now = fixture.jobs().stats(StatsRequest.getDefaultInstance());
                WorkerInfo busyInfo = worker(now, "busy-worker").orElseThrow();
                assertThat(busyInfo.getJobTypesList()).containsExactly(RESIZE, MAIL);
                assertThat(busyInfo.getMaxConcurrency()).isEqualTo(30);
                assertThat(busyInfo.getInFlight()).isEqualTo(
                        (int) fixture.queryLong("SELECT count(*) FROM jobs WHERE state = 'RUNNING'"));
                assertThat(busyInfo.getInFlight()).isEqualTo(6);
                assertThat(busyInfo.getFreeCapacity()).isZero();
                WorkerInfo idleInfo = worker(now, "idle-worker").orElseThrow();
                assertThat(idleInfo.getJobTypesList()).containsExactly("report.render");
                assertThat(idleInfo.getMaxConcurrency()).isEqualTo(5);
                assertThat(idleInfo.getInFlight()).isZero();
                assertThat(idleInfo.getFreeCapacity()).isEqualTo(2);
                assertThat(idleInfo.getBrokerId()).isEqualTo(busyInfo.getBrokerId()).isNotEmpty();
                assertThat(idleInfo.getSessionId()).isNotEqualTo(busyInfo.getSessionId());
            });
            // The type filter applies to workers too.
            assertThat(fixture.jobs().stats(StatsRequest.newBuilder().setType(MAIL).build()).getWorkersList())
                    .extracting(WorkerInfo::getWorkerId).containsExactly("busy-worker");

            // A worker whose stream closed disappears.
            idle.halfClose();
            idle.awaitClosed();
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() ->
                    assertThat(fixture.jobs().stats(StatsRequest.getDefaultInstance()).getWorkersList())
                            .extracting(WorkerInfo::getWorkerId).containsExactly("busy-worker"));
            busy.cancel();
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() ->
                    assertThat(fixture.jobs().stats(StatsRequest.getDefaultInstance()).getWorkersList()).isEmpty());
        }
    }

    /**
     * Runs the plans through the broker and one worker. Returns the id of a job whose lease expired and
     * was reaped (queued again with one attempt and one error, in img.resize/default).
     */
    private static String buildMixedWorkload(BrokerFixture fixture, RawWorker worker) {
        // Jobs the worker will run, succeed or fail: all submitted first, then taken at once.
        int toTake = 0;
        for (Plan plan : PLANS) {
            for (int i = 0; i < plan.running() + plan.succeeded() + plan.failed(); i++) {
                fixture.submit(spec(plan).setMaxAttempts(2).build());
                toTake++;
            }
        }
        Map<String, List<AssignedJob>> taken = new HashMap<>();
        worker.take(toTake).forEach(job -> taken.computeIfAbsent(job.getType() + "/" + job.getQueue(),
                key -> new ArrayList<>()).add(job));
        List<AssignedJob> running = new ArrayList<>();
        int toFailAgain = 0;
        for (Plan plan : PLANS) {
            List<AssignedJob> jobs = taken.get(plan.key());
            assertThat(jobs).as(plan.key()).hasSize(plan.running() + plan.succeeded() + plan.failed());
            running.addAll(jobs.subList(0, plan.running()));
            for (AssignedJob job : jobs.subList(plan.running(), plan.running() + plan.succeeded())) {
                assertThat(worker.complete(job.getLease(), "{}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            }
            for (AssignedJob job : jobs.subList(plan.running() + plan.succeeded(), jobs.size())) {
                assertThat(worker.fail(retryNow(job)).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
                toFailAgain++;
            }
        }
        // The failed jobs are due again at once: their second and last attempt fails too.
        for (AssignedJob job : worker.take(toFailAgain)) {
            assertThat(job.getLease().getAttempt()).isEqualTo(2);
            assertThat(worker.fail(retryNow(job)).getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        }
        // One running job of img.resize/default loses its lease and is queued again.
        AssignedJob lost = running.stream().filter(job -> job.getType().equals(RESIZE) && job.getQueue().equals(DEFAULT))
                .findFirst().orElseThrow();
        fixture.expireLease(lost.getLease().getJobId());
        fixture.broker().reaper().reapAll(); // or the background reaper got there first
        assertThat(fixture.queryString("SELECT state || ':' || errors FROM jobs WHERE id = "
                + lost.getLease().getJobId())).isEqualTo("QUEUED:1");

        // Jobs that never run: queued, scheduled an hour ahead, cancelled, held. The worker has no credit left.
        for (Plan plan : PLANS) {
            for (int i = 0; i < plan.queued(); i++) {
                fixture.submit(spec(plan).build());
            }
            for (int i = 0; i < plan.scheduled(); i++) {
                fixture.submit(spec(plan).setDelay(Durations.fromSeconds(3600)).build());
            }
            for (int i = 0; i < plan.cancelled(); i++) {
                fixture.jobs().cancel(CancelRequest.newBuilder().setId(fixture.submit(spec(plan).build())).build());
            }
            for (int i = 0; i < plan.held(); i++) {
                fixture.jobs().hold(HoldRequest.newBuilder().setId(fixture.submit(spec(plan).build())).build());
            }
        }
        return lost.getLease().getJobId();
    }

    private static JobSpec.Builder spec(Plan plan) {
        return JobSpec.newBuilder().setType(plan.type()).setQueue(plan.queue()).setPayload("{}");
    }

    private static Fail retryNow(AssignedJob job) {
        return Fail.newBuilder().setLease(job.getLease()).setError("boom").setRetryable(true)
                .setRetryDelay(Durations.fromMillis(0)).build();
    }

    /** Counts per "type/queue", aggregated here from the raw rows of the jobs table. */
    private static Map<String, Counts> countsFromRows(BrokerFixture fixture) {
        Map<String, long[]> sums = new TreeMap<>();
        try (Connection connection = DriverManager.getConnection(fixture.jdbcUrl());
             Statement sql = connection.createStatement();
             ResultSet rows = sql.executeQuery(
                     "SELECT type, queue, state, run_at > now() AS future, attempt, errors FROM jobs")) {
            while (rows.next()) {
                long[] sum = sums.computeIfAbsent(rows.getString("type") + "/" + rows.getString("queue"),
                        key -> new long[9]);
                String state = rows.getString("state");
                int index = List.of("QUEUED", "", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "HELD").indexOf(state);
                sum[index]++;
                if (state.equals("QUEUED") && rows.getBoolean("future")) {
                    sum[1]++;
                }
                sum[7] += rows.getInt("attempt");
                sum[8] += rows.getInt("errors");
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        Map<String, Counts> counts = new TreeMap<>();
        sums.forEach((key, s) -> counts.put(key, new Counts(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8])));
        return counts;
    }

    private static Duration oldestQueuedAge(StatsResponse stats, String type, String queue) {
        QueueStats row = stats.getQueuesList().stream()
                .filter(q -> q.getType().equals(type) && q.getQueue().equals(queue))
                .findFirst().orElseThrow();
        return Duration.ofMillis(Durations.toMillis(row.getOldestQueuedAge()));
    }

    private static Optional<WorkerInfo> worker(StatsResponse stats, String workerId) {
        return stats.getWorkersList().stream().filter(w -> w.getWorkerId().equals(workerId)).findFirst();
    }

    // ---------------------------------------------------------------- ListJobTypes

    private static final String SCHEMA = "{\"type\":\"object\",\"required\":[\"url\"],"
            + "\"properties\":{\"url\":{\"type\":\"string\"}}}";

    @Test
    void listJobTypesShowsAnnouncedTypesWithLiveWorkersAndKeepsThemAfterWorkersLeave() throws Exception {
        try (BrokerFixture fixture = BrokerFixture.start()) {
            RawWorker first = hello(fixture, Hello.newBuilder().setWorkerId("crawler-1").setMaxConcurrency(2)
                    .addJobTypes(JobTypeSpec.newBuilder().setName("page.fetch").setDescription("Fetches a page")
                            .setPayloadSchema(SCHEMA))
                    .addJobTypes(JobTypeSpec.newBuilder().setName("page.index")).build());

            List<JobTypeInfo> types = fixture.jobs().listJobTypes(ListJobTypesRequest.getDefaultInstance())
                    .getJobTypesList();
            assertThat(types).extracting(JobTypeInfo::getName).containsExactly("page.fetch", "page.index");
            JobTypeInfo fetch = types.get(0);
            assertThat(fetch.getDescription()).isEqualTo("Fetches a page");
            ObjectMapper json = new ObjectMapper();
            assertThat(json.readTree(fetch.getPayloadSchema())).isEqualTo(json.readTree(SCHEMA));
            assertThat(fetch.getWorkersOnline()).isEqualTo(1);
            assertThat(types.get(1).getDescription()).isEmpty();
            assertThat(types.get(1).getPayloadSchema()).isEmpty();
            assertThat(types.get(1).getWorkersOnline()).isEqualTo(1);

            // A second worker for page.fetch: two online, and its description is now the one shown.
            RawWorker second = hello(fixture, Hello.newBuilder().setWorkerId("crawler-2").setMaxConcurrency(1)
                    .addJobTypes(JobTypeSpec.newBuilder().setName("page.fetch").setDescription("Fetches a page, v2")
                            .setPayloadSchema(SCHEMA)).build());
            JobTypeInfo both = type(fixture, "page.fetch");
            assertThat(both.getWorkersOnline()).isEqualTo(2);
            assertThat(both.getDescription()).isEqualTo("Fetches a page, v2");
            assertThat(type(fixture, "page.index").getWorkersOnline()).isEqualTo(1);

            // Presence refreshes move last_seen_at forward; first_seen_at stays.
            long seenBefore = Timestamps.toMillis(both.getLastSeenAt());
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() ->
                    assertThat(Timestamps.toMillis(type(fixture, "page.fetch").getLastSeenAt()))
                            .isGreaterThan(seenBefore));
            assertThat(type(fixture, "page.fetch").getFirstSeenAt()).isEqualTo(fetch.getFirstSeenAt());

            // Workers leave: the types stay listed with nobody online.
            first.halfClose();
            second.cancel();
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() -> {
                assertThat(type(fixture, "page.fetch").getWorkersOnline()).isZero();
                assertThat(type(fixture, "page.index").getWorkersOnline()).isZero();
            });
            assertThat(fixture.jobs().listJobTypes(ListJobTypesRequest.getDefaultInstance()).getJobTypesList())
                    .extracting(JobTypeInfo::getName).containsExactly("page.fetch", "page.index");
            assertThat(type(fixture, "page.fetch").getDescription()).isEqualTo("Fetches a page, v2");
        }
    }

    private static RawWorker hello(BrokerFixture fixture, Hello hello) {
        RawWorker worker = RawWorker.open(fixture.workerStub());
        worker.send(WorkerMessage.newBuilder().setHello(hello).build());
        worker.await(BrokerMessage::hasWelcome);
        return worker;
    }

    private static JobTypeInfo type(BrokerFixture fixture, String name) {
        return fixture.jobs().listJobTypes(ListJobTypesRequest.getDefaultInstance()).getJobTypesList().stream()
                .filter(type -> type.getName().equals(name)).findFirst().orElseThrow();
    }
}
