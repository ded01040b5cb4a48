package io.jobwire.broker.dispatch;

import static io.jobwire.broker.testing.Calls.codeOf;
import static io.jobwire.broker.testing.Calls.messageOf;
import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.DeleteRateLimitRequest;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.RateLimit;
import io.jobwire.api.v1.SetRateLimitRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.OpsAndShop;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.client.JobwireClient;
import io.jobwire.worker.JobType;
import io.jobwire.worker.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Rate limits on two brokers: the starts of a key's jobs (read from the database's attempt records) never
 * outrun the token bucket in any window, whichever broker took the job, however long workers were away;
 * a limited job waits QUEUED and never fails for it; each attempt takes a token; a raised or deleted limit
 * lets the waiting jobs go at once.
 */
public class RateLimitTest {
    private static final Duration PROMPTLY = scaled(Duration.ofSeconds(5));

    @RegisterExtension
    @Order(1)
    static final BrokerFixture a = BrokerFixture.perClass();
    @RegisterExtension
    @Order(2)
    static final BrokerFixture b = BrokerFixture.perClassBeside(a);

    private static JobSpec limited(String type, String key) {
        return JobSpec.newBuilder().setType(type).setRateKey(key).build();
    }

    private static Job get(String id) {
        return a.jobs().get(GetRequest.newBuilder().setId(id).build());
    }

    /** The start of every attempt of the key's jobs, in seconds, in order. */
    private static double[] starts(String key) {
        return starts(a, key);
    }

    /** The start of every attempt of the rate key's jobs in the broker's database, in seconds, in order. */
    static double[] starts(BrokerFixture broker, String key) {
        String all = broker.queryString("SELECT coalesce(string_agg(extract(epoch FROM a.started_at)::text, ',' ORDER BY a.started_at), '') "
                + "FROM job_attempt_history a JOIN jobs j ON j.id = a.job_id WHERE j.rate_key = '" + key + "'");
        return all.isEmpty() ? new double[0] : Arrays.stream(all.split(",")).mapToDouble(Double::parseDouble).toArray();
    }

    /**
     * The most starts any window holds beyond what the bucket allows (burst + rate * window); at most 0 when
     * the limit held. Every window from one start to a later one is looked at.
     */
    public static double mostOver(double[] starts, double perSecond, int burst) {
        double most = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < starts.length; i++) {
            for (int j = i; j < starts.length; j++) {
                most = Math.max(most, (j - i + 1) - (burst + perSecond * (starts[j] - starts[i])));
            }
        }
        return most;
    }

    @Test
    void theWindowCheckCanFail() {
        assertThat(mostOver(new double[] {0, 0.01, 0.02, 0.03}, 10, 2)).isGreaterThan(0);
        assertThat(mostOver(new double[] {0, 0.0, 0.1, 0.2, 0.3}, 10, 2)).isLessThanOrEqualTo(0);
    }

    @Test
    void startsNeverOutrunTheLimitOnEitherBrokerAndJobsOfOtherKeysAreNotHeldUp() {
        a.client().setRateLimit("rl-steady", 20, 4);
        JobType type = JobType.of("rl.steady");
        try (Worker onA = worker(a, type); Worker onB = worker(b, type)) {
            List<JobSpec> viaA = new ArrayList<>();
            List<JobSpec> viaB = new ArrayList<>();
            for (int i = 0; i < 60; i++) {
                (i % 2 == 0 ? viaA : viaB).add(limited("rl.steady", "rl-steady"));
            }
            List<String> free = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            a.client().submitBatch(viaA).forEach(r -> ids.add(r.getJob().getId()));
            b.client().submitBatch(viaB).forEach(r -> ids.add(r.getJob().getId()));
            for (int i = 0; i < 10; i++) {
                free.add(a.submit("rl.steady", "{}"));
            }
            await().atMost(scaled(Duration.ofSeconds(30))).until(() -> free.stream().allMatch(id -> get(id).getState() == JobState.JOB_STATE_SUCCEEDED));
            assertThat(ids.stream().filter(id -> get(id).getState() == JobState.JOB_STATE_SUCCEEDED).count())
                    .as("the unlimited jobs finished while most limited ones still waited").isLessThan(60);
            await().atMost(scaled(Duration.ofSeconds(60))).until(() -> ids.stream().allMatch(id -> get(id).getState() == JobState.JOB_STATE_SUCCEEDED));
        }
        double[] starts = starts("rl-steady");
        assertThat(starts).hasSize(60);
        assertThat(mostOver(starts, 20, 4)).as("starts beyond burst 4 + 20/s in the worst window").isLessThanOrEqualTo(0);
        assertThat(starts[59] - starts[0]).as("56 starts past the burst take 2.8 s at 20/s").isGreaterThanOrEqualTo(2.8);
        assertThat(a.queryLong("SELECT count(*) FROM rate_waiting WHERE key = 'rl-steady'")).isZero();
    }

    private static Worker worker(BrokerFixture broker, JobType type) {
        return Worker.builder().target("127.0.0.1:" + broker.broker().port()).concurrency(8)
                .handle(type, job -> "{}").start();
    }

    @Test
    void whileNoWorkerTakesThemNoMoreThanTheBurstIsLetThroughAndSavedUp() throws Exception {
        a.client().setRateLimit("rl-away", 50, 3);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            ids.add((i % 2 == 0 ? a : b).submit(limited("rl.away", "rl-away")));
        }
        await().atMost(PROMPTLY).until(() -> a.queryLong("SELECT count(*) FROM live_jobs WHERE rate_key = 'rl-away' AND key_admitted") == 3);
        Thread.sleep(1_000); // a second at 50/s: a bucket that kept filling while no one took the jobs would hold 50
        assertThat(a.queryLong("SELECT count(*) FROM live_jobs WHERE rate_key = 'rl-away' AND key_admitted"))
                .as("admitted and waiting for a worker").isEqualTo(3);
        Job waiting = get(ids.get(19));
        assertThat(waiting.getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
        assertThat(waiting.getWaitingForRate()).isTrue();
        assertThat(waiting.getRateKey()).isEqualTo("rl-away");
        assertThat(waiting.getAttempt()).isZero();
        try (Worker onB = worker(b, JobType.of("rl.away"))) {
            await().atMost(scaled(Duration.ofSeconds(30))).until(() -> ids.stream().allMatch(id -> get(id).getState() == JobState.JOB_STATE_SUCCEEDED));
        }
        assertThat(mostOver(starts("rl-away"), 50, 3)).as("starts beyond burst 3 + 50/s in the worst window").isLessThanOrEqualTo(0);
    }

    @Test
    void eachAttemptTakesATokenAndARaisedLimitLetsTheWaitingGoAtOnce() {
        a.client().setRateLimit("rl-slow", 0.01, 1); // one start per 100 s
        String first;
        try (RawWorker worker = a.connectWorker("rl-slow", 5, "rl.slow")) {
            worker.credit(5);
            first = b.submit(limited("rl.slow", "rl-slow"));
            String second = b.submit(limited("rl.slow", "rl-slow"));
            AssignedJob run = worker.await(BrokerMessage::hasAssign, PROMPTLY).getAssign().getJobs(0);
            assertThat(run.getLease().getJobId()).isEqualTo(first);
            worker.fail(io.jobwire.api.v1.Fail.newBuilder().setLease(run.getLease()).setError("again").setRetryable(true)
                    .setRetryDelay(com.google.protobuf.Duration.getDefaultInstance()).build());
            await().atMost(PROMPTLY).until(() -> get(first).getState() == JobState.JOB_STATE_QUEUED);
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(700)))
                    .as("neither the retry nor the second job has a token").isFalse();
            assertThat(get(first).getWaitingForRate()).isTrue();
            assertThat(get(second).getWaitingForRate()).isTrue();
            assertThat(a.client().rateLimits()).filteredOn(l -> l.getKey().equals("rl-slow"))
                    .singleElement().extracting(RateLimit::getWaiting).isEqualTo(2L);

            b.client().setRateLimit("rl-slow", 1000, 10);
            List<AssignedJob> both = worker.awaitJobs(2);
            assertThat(both).extracting(j -> j.getLease().getJobId()).containsExactlyInAnyOrder(first, second);
            both.forEach(job -> worker.complete(job.getLease(), "{}"));
        }
        assertThat(get(first).getAttemptsList()).hasSize(2);
    }

    @Test
    void aDeletedLimitLetsItsJobsGoAndTheKeyCanNoLongerBeNamed() {
        a.client().setRateLimit("rl-gone", 0.01, 1);
        try (RawWorker worker = b.connectWorker("rl-gone", 5, "rl.gone")) {
            worker.credit(5);
            List<String> ids = List.of(a.submit(limited("rl.gone", "rl-gone")), a.submit(limited("rl.gone", "rl-gone")),
                    a.submit(limited("rl.gone", "rl-gone")));
            worker.awaitJobs(1);
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(500))).isFalse();
            RateLimit deleted = b.jobs().deleteRateLimit(DeleteRateLimitRequest.newBuilder().setKey("rl-gone").build());
            assertThat(deleted.getPerSecond()).isEqualTo(0.01);
            assertThat(worker.awaitJobs(2)).extracting(j -> j.getLease().getJobId()).containsExactlyInAnyOrder(ids.get(1), ids.get(2));
        }
        assertThat(messageOf(() -> b.submit(limited("rl.gone", "rl-gone")))).isEqualTo("job.rate_key: rl-gone has no "
                + "rate limit; set one first (jobwire rate-limit set --key rl-gone --per-second N)");
        // the other broker knew the key had a limit a moment ago: it believes so for a second at most
        await().atMost(PROMPTLY).until(() -> codeOf(() -> a.submit(limited("rl.gone", "rl-gone"))) == Status.Code.FAILED_PRECONDITION);
    }

    @Test
    void aTypesDefaultRateKeyLimitsItsJobs() {
        a.client().setRateLimit("rl.typed", 0.01, 2);
        a.jobs().registerJobType(io.jobwire.api.v1.RegisterJobTypeRequest.newBuilder().setRegistration(
                io.jobwire.api.v1.JobTypeRegistration.newBuilder().setName("rl.typed").setDefaults(
                        io.jobwire.api.v1.JobTypeDefaults.newBuilder().setRateKey("rl.typed"))).build());
        List<String> ids = List.of(a.submit("rl.typed", "{}"), a.submit("rl.typed", "{}"), a.submit("rl.typed", "{}"));
        assertThat(get(ids.get(0)).getRateKey()).isEqualTo("rl.typed");
        try (RawWorker worker = b.connectWorker("rl-typed", 5, "rl.typed")) {
            worker.credit(5);
            assertThat(worker.awaitJobs(2)).extracting(j -> j.getLease().getJobId()).containsExactlyInAnyOrder(ids.get(0), ids.get(1));
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(500))).as("burst 2").isFalse();
        }
        assertThat(get(ids.get(2)).getWaitingForRate()).isTrue();
    }

    @Test
    void badLimitsAndBadKeysAreRefusedAndChangeNothing() {
        a.client().setRateLimit("rl-bad", 5, 0);
        assertThat(a.client().rateLimits()).filteredOn(l -> l.getKey().equals("rl-bad")).singleElement()
                .satisfies(l -> assertThat(l.getBurst()).as("a second's worth").isEqualTo(5));
        for (SetRateLimitRequest bad : List.of(
                SetRateLimitRequest.newBuilder().setKey("rl-bad").setPerSecond(0).build(),
                SetRateLimitRequest.newBuilder().setKey("rl-bad").setPerSecond(-1).build(),
                SetRateLimitRequest.newBuilder().setKey("rl-bad").setPerSecond(Double.NaN).build(),
                SetRateLimitRequest.newBuilder().setKey("rl-bad").setPerSecond(1e9).build(),
                SetRateLimitRequest.newBuilder().setKey("rl-bad").setPerSecond(1).setBurst(-1).build(),
                SetRateLimitRequest.newBuilder().setKey("rl-bad").setPerSecond(1).setBurst(1_000_000).build(),
                SetRateLimitRequest.newBuilder().setKey("").setPerSecond(1).build(),
                SetRateLimitRequest.newBuilder().setKey("k".repeat(257)).setPerSecond(1).build())) {
            assertThat(codeOf(() -> a.jobs().setRateLimit(bad))).as(bad.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        }
        assertThat(messageOf(() -> a.jobs().setRateLimit(SetRateLimitRequest.newBuilder().setKey("rl-bad").setPerSecond(0).build())))
                .isEqualTo("per_second: must be more than 0 and at most 100000, got 0.0");
        assertThat(a.client().rateLimits()).filteredOn(l -> l.getKey().equals("rl-bad")).singleElement()
                .satisfies(l -> assertThat(l.getPerSecond()).isEqualTo(5.0));
        assertThat(codeOf(() -> a.jobs().deleteRateLimit(DeleteRateLimitRequest.newBuilder().setKey("rl-none").build())))
                .isEqualTo(Status.Code.NOT_FOUND);
        assertThat(codeOf(() -> a.submit(limited("rl.bad", "rl-none")))).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(a.queryLong("SELECT count(*) FROM jobs WHERE type = 'rl.bad'")).isZero();
    }

    @Test
    void onlyAnAdminSetsOrDeletesLimitsAndOthersSeeOnlyTheirOwnWaitingJobs() {
        try (OpsAndShop secured = OpsAndShop.start(a.jdbcUrl())) {
            JobwireClient asShop = secured.asShop();
            JobwireClient asOps = secured.asOps();
            assertThat(codeOf(() -> asShop.setRateLimit("rl-shop", 1, 1))).isEqualTo(Status.Code.PERMISSION_DENIED);
            asOps.setRateLimit("rl-shop", 0.01, 1);
            assertThat(codeOf(() -> asShop.deleteRateLimit("rl-shop"))).isEqualTo(Status.Code.PERMISSION_DENIED);
            for (int i = 0; i < 3; i++) {
                asOps.submit(JobSpec.newBuilder().setType("rl.shop").setOwner("other").setRateKey("rl-shop").build());
            }
            asShop.submit(JobSpec.newBuilder().setType("rl.shop").setRateKey("rl-shop").build());
            asShop.submit(JobSpec.newBuilder().setType("rl.shop").setRateKey("rl-shop").build());
            // one of the five took the only token; the rest wait
            await().atMost(PROMPTLY).until(() -> asOps.rateLimits().stream().filter(l -> l.getKey().equals("rl-shop"))
                    .findFirst().orElseThrow().getWaiting() == 4);
            long shopWaiting = asShop.rateLimits().stream().filter(l -> l.getKey().equals("rl-shop")).findFirst().orElseThrow()
                    .getWaiting();
            assertThat(shopWaiting).as("shop's own only").isBetween(1L, 2L);
        }
    }
}
