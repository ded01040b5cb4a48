package io.jobwire.broker.dispatch;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.HoldRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.ReleaseRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.worker.JobType;
import io.jobwire.worker.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A job with a concurrency key and a rate key, on two brokers: it waits for its key's slot, then, holding
 * it, for a token; no key ever runs more than its limit and the rate key's starts never outrun its bucket;
 * Get says which of the two it waits for. A held job leaves both lines, so held jobs at the head of a line
 * stop no other job of the key, and released it queues for both again.
 */
class BothKeysTest {
    private static final Duration PROMPTLY = scaled(Duration.ofSeconds(5));

    @RegisterExtension
    @Order(1)
    static final BrokerFixture a = BrokerFixture.perClass();
    @RegisterExtension
    @Order(2)
    static final BrokerFixture b = BrokerFixture.perClassBeside(a);

    private static JobSpec both(String type, String key, String rateKey) {
        return JobSpec.newBuilder().setType(type).setPayload("{\"key\": \"" + key + "\"}").setConcurrencyKey(key)
                .setRateKey(rateKey).build();
    }

    private static Job get(String id) {
        return a.jobs().get(GetRequest.newBuilder().setId(id).build());
    }

    @Test
    void neitherTheKeysLimitNorTheRateIsEverExceededOnEitherBroker() {
        a.client().setRateLimit("bk-rate", 25, 3);
        Map<String, AtomicInteger> running = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> most = new ConcurrentHashMap<>();
        JobType type = JobType.of("bk.steady");
        List<String> ids = new ArrayList<>();
        try (Worker onA = ConcurrencyKeyTest.countingWorker(a, type, running, most, 30);
             Worker onB = ConcurrencyKeyTest.countingWorker(b, type, running, most, 30)) {
            List<JobSpec> viaA = new ArrayList<>();
            List<JobSpec> viaB = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                (i % 2 == 0 ? viaA : viaB).add(both("bk.steady", "bk-key-" + (i % 4), "bk-rate"));
            }
            a.client().submitBatch(viaA).forEach(r -> ids.add(r.getJob().getId()));
            b.client().submitBatch(viaB).forEach(r -> ids.add(r.getJob().getId()));
            await().atMost(scaled(Duration.ofSeconds(60))).until(() -> ids.stream().allMatch(id -> get(id).getState() == JobState.JOB_STATE_SUCCEEDED));
        }
        assertThat(most.keySet()).containsExactlyInAnyOrder("bk-key-0", "bk-key-1", "bk-key-2", "bk-key-3");
        most.forEach((key, n) -> assertThat(n.get()).as(key + " at once").isEqualTo(1));
        double[] starts = RateLimitTest.starts(a, "bk-rate");
        assertThat(starts).hasSize(40);
        assertThat(RateLimitTest.mostOver(starts, 25, 3)).as("starts beyond burst 3 + 25/s in the worst window").isLessThanOrEqualTo(0);
        assertThat(a.queryLong("SELECT count(*) FROM key_waiting WHERE key LIKE 'bk-key-%'")
                + a.queryLong("SELECT count(*) FROM rate_waiting WHERE key = 'bk-rate'")).isZero();
    }

    @Test
    void aJobHoldsItsSlotWhileItWaitsForItsTokenAndSaysWhichItWaitsFor() {
        a.client().setRateLimit("bk-slow", 0.01, 1); // one start per 100 s
        try (RawWorker worker = a.connectWorker("bk-slow", 5, "bk.slow")) {
            worker.credit(5);
            String first = b.submit(both("bk.slow", "bk-one", "bk-slow"));
            AssignedJob run = worker.await(BrokerMessage::hasAssign, PROMPTLY).getAssign().getJobs(0);
            assertThat(run.getLease().getJobId()).isEqualTo(first);
            String second = b.submit(both("bk.slow", "bk-one", "bk-slow"));
            String other = b.submit(both("bk.slow", "bk-two", "bk-slow"));
            await().atMost(PROMPTLY).until(() -> get(other).getWaitingForRate());
            assertThat(get(other).getWaitingForKey()).as("bk-two's slot is free: it holds it").isFalse();
            assertThat(get(second).getWaitingForKey()).as("bk-one's slot is the first job's").isTrue();
            assertThat(get(second).getWaitingForRate()).as("it has no slot yet, so it is not in the rate's line").isFalse();
            assertThat(a.queryLong("SELECT count(*) FROM live_jobs WHERE concurrency_key = 'bk-two' AND key_slot AND NOT key_admitted"))
                    .as("bk-two's job holds its slot without a token").isEqualTo(1);

            worker.complete(run.getLease(), "{}");
            await().atMost(PROMPTLY).until(() -> get(second).getWaitingForRate());
            assertThat(get(second).getWaitingForKey()).isFalse();
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(500)))
                    .as("both hold a slot; neither has a token").isFalse();
            assertThat(a.client().rateLimits()).filteredOn(l -> l.getKey().equals("bk-slow"))
                    .singleElement().satisfies(l -> assertThat(l.getWaiting()).isEqualTo(2L));

            b.client().setRateLimit("bk-slow", 1000, 10);
            List<AssignedJob> two = worker.awaitJobs(2);
            assertThat(two).extracting(j -> j.getLease().getJobId()).containsExactlyInAnyOrder(second, other);
            String third = a.submit(both("bk.slow", "bk-one", "bk-slow"));
            await().atMost(PROMPTLY).until(() -> get(third).getWaitingForKey());
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(500)))
                    .as("a token to spare, but bk-one's slot is taken").isFalse();
            a.jobs().hold(HoldRequest.newBuilder().setId(third).build());
            assertThat(a.queryLong("SELECT count(*) FROM key_waiting WHERE job_id = " + third)).as("held: out of the line").isZero();
            a.jobs().release(ReleaseRequest.newBuilder().setId(third).build());
            assertThat(get(third).getWaitingForKey()).as("released: in its key's line again").isTrue();
            two.forEach(job -> worker.complete(job.getLease(), "{}"));
            assertThat(worker.awaitJobs(1)).extracting(j -> j.getLease().getJobId()).containsExactly(third);
        }
    }

    @Test
    void heldJobsAtTheHeadOfALineStopNoOtherAndReleasedTheyQueueForBothAgain() {
        a.client().setRateLimit("bk-head", 200, 2);
        List<String> held = new ArrayList<>();
        try (RawWorker worker = b.connectWorker("bk-head", 60, "bk.head")) {
            // no credit yet: two are let through (the burst), the other 38 wait for a token
            for (int i = 0; i < 40; i++) {
                held.add(a.submit(JobSpec.newBuilder().setType("bk.head").setRateKey("bk-head").build()));
            }
            await().atMost(PROMPTLY).until(() -> a.queryLong("SELECT count(*) FROM rate_waiting WHERE key = 'bk-head'") == 38);
            List<String> lined = held.stream().filter(id -> get(id).getWaitingForRate()).toList();
            assertThat(lined).hasSize(38);
            lined.forEach(id -> a.jobs().hold(HoldRequest.newBuilder().setId(id).build()));
            assertThat(a.queryLong("SELECT count(*) FROM rate_waiting WHERE key = 'bk-head'")).as("held: out of the line").isZero();
            List<String> later = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                later.add(b.submit(JobSpec.newBuilder().setType("bk.head").setRateKey("bk-head").build()));
            }
            worker.credit(60);
            assertThat(worker.awaitJobs(5)).extracting(j -> j.getLease().getJobId())
                    .as("the burst's two, then the three submitted after the held ones").containsAll(later);
            lined.forEach(id -> a.jobs().release(ReleaseRequest.newBuilder().setId(id).build()));
            List<AssignedJob> rest = worker.awaitJobs(38);
            assertThat(rest).extracting(j -> j.getLease().getJobId()).containsExactlyInAnyOrderElementsOf(lined);
        }
    }
}
