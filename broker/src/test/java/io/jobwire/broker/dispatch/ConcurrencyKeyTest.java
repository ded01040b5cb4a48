package io.jobwire.broker.dispatch;

import static io.jobwire.broker.testing.Calls.codeOf;
import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.HoldRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.ReleaseRequest;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.worker.JobType;
import io.jobwire.worker.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Concurrency keys on two brokers: no key ever has more jobs running than its limit (seen by the workers'
 * handlers and by the database, sampled all along), a busy key holds up no other key, a slot comes back
 * when its job finishes, is cancelled or held, and a delayed keyed job is admitted once due.
 */
class ConcurrencyKeyTest {
    private static final Duration PROMPTLY = scaled(Duration.ofSeconds(5));

    @RegisterExtension
    @Order(1)
    static final BrokerFixture a = BrokerFixture.perClass();
    @RegisterExtension
    @Order(2)
    static final BrokerFixture b = BrokerFixture.perClassBeside(a);

    private static JobSpec keyed(String type, String key, int limit) {
        return JobSpec.newBuilder().setType(type).setPayload("{\"key\": \"" + key + "\"}").setConcurrencyKey(key)
                .setConcurrencyLimit(limit).build();
    }

    private static JobState stateOf(String id) {
        return a.jobs().get(GetRequest.newBuilder().setId(id).build()).getState();
    }

    private static AssignedJob next(RawWorker worker) {
        return worker.await(BrokerMessage::hasAssign, PROMPTLY).getAssign().getJobs(0);
    }

    @Test
    void noKeyEverRunsMoreThanItsLimitOnAnyBrokerAndEveryJobRuns() throws Exception {
        Map<String, AtomicInteger> running = new ConcurrentHashMap<>();
        Map<String, AtomicInteger> most = new ConcurrentHashMap<>();
        AtomicInteger mostInDatabase = new AtomicInteger();
        AtomicBoolean sampling = new AtomicBoolean(true);
        Thread sampler = new Thread(() -> {
            while (sampling.get()) {
                mostInDatabase.accumulateAndGet((int) a.queryLong("SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n "
                        + "FROM live_jobs WHERE state = 'RUNNING' AND concurrency_key LIKE 'limit-%' GROUP BY concurrency_key) c"),
                        Math::max);
            }
        });
        JobType type = JobType.of("keys.limit");
        try (Worker onA = worker(a, type, running, most); Worker onB = worker(b, type, running, most)) {
            sampler.start();
            // two batches, one through each broker: every key has a line of jobs waiting at once
            List<JobSpec> viaA = new ArrayList<>();
            List<JobSpec> viaB = new ArrayList<>();
            for (int i = 0; i < 36; i++) {
                (i % 2 == 0 ? viaA : viaB).add(keyed("keys.limit", "limit-" + (i % 3), 2));
            }
            for (int i = 0; i < 10; i++) {
                viaA.add(JobSpec.newBuilder().setType("keys.limit").setPayload("{\"key\": \"none\"}").build());
            }
            List<String> ids = new ArrayList<>();
            a.client().submitBatch(viaA).forEach(r -> ids.add(r.getJob().getId()));
            b.client().submitBatch(viaB).forEach(r -> ids.add(r.getJob().getId()));
            await().atMost(scaled(Duration.ofSeconds(60))).until(() -> ids.stream().allMatch(id -> stateOf(id) == JobState.JOB_STATE_SUCCEEDED));
        } finally {
            sampling.set(false);
            sampler.join();
        }
        assertThat(most.keySet()).contains("limit-0", "limit-1", "limit-2", "none");
        for (int k = 0; k < 3; k++) {
            assertThat(most.get("limit-" + k).get()).as("limit-" + k + " at most 2 at once").isBetween(1, 2);
        }
        assertThat(most.values().stream().mapToInt(AtomicInteger::get).max().orElse(0))
                .as("the unkeyed jobs (16 slots) ran side by side").isGreaterThanOrEqualTo(3);
        assertThat(mostInDatabase.get()).as("RUNNING per key in the database").isBetween(1, 2);
        assertThat(a.queryLong("SELECT count(*) FROM key_waiting WHERE key LIKE 'limit-%'")).isZero();
    }

    private static Worker worker(BrokerFixture broker, JobType type, Map<String, AtomicInteger> running,
                                 Map<String, AtomicInteger> most) {
        return countingWorker(broker, type, running, most, 100);
    }

    /**
     * A worker of 8 slots whose handler sleeps {@code millis} and counts, per the payload's "key", the jobs
     * running at once and the most there were.
     */
    static Worker countingWorker(BrokerFixture broker, JobType type, Map<String, AtomicInteger> running,
                                 Map<String, AtomicInteger> most, long millis) {
        return Worker.builder().target("127.0.0.1:" + broker.broker().port()).concurrency(8)
                .handle(type, job -> {
                    String key = job.payload(Map.class).get("key").toString();
                    int now = running.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
                    most.computeIfAbsent(key, k -> new AtomicInteger()).accumulateAndGet(now, Math::max);
                    try {
                        Thread.sleep(millis);
                    } finally {
                        running.get(key).decrementAndGet();
                    }
                    return "{}";
                }).start();
    }

    @Test
    void aBusyKeyHoldsUpNoOtherKeyAndItsNextJobStartsWhenTheSlotComesBack() {
        try (RawWorker worker = a.connectWorker("keys-busy", 5, "keys.busy")) {
            worker.credit(5);
            String first = b.submit(keyed("keys.busy", "busy", 1));
            AssignedJob running = next(worker);
            assertThat(running.getLease().getJobId()).isEqualTo(first);
            String second = b.submit(keyed("keys.busy", "busy", 1));
            String other = b.submit(keyed("keys.busy", "free", 1));
            AssignedJob otherJob = next(worker);
            assertThat(otherJob.getLease().getJobId()).as("another key is not held up").isEqualTo(other);
            assertThat(stateOf(second)).isEqualTo(JobState.JOB_STATE_QUEUED);
            assertThat(a.jobs().get(GetRequest.newBuilder().setId(second).build()).getWaitingForKey()).isTrue();

            worker.complete(running.getLease(), "{}");
            assertThat(next(worker).getLease().getJobId()).as("the slot came back").isEqualTo(second);
            Job shown = a.jobs().get(GetRequest.newBuilder().setId(second).build());
            assertThat(shown.getWaitingForKey()).isFalse();
            assertThat(shown.getConcurrencyKey()).isEqualTo("busy");
            assertThat(shown.getConcurrencyLimit()).isEqualTo(1);
        }
    }

    @Test
    void aCancelledOrHeldJobGivesItsSlotBack() {
        String holding = a.submit(keyed("keys.slots", "slots", 1)); // admitted: no worker yet
        String waiting = a.submit(keyed("keys.slots", "slots", 1));
        String last = a.submit(keyed("keys.slots", "slots", 1));
        a.jobs().hold(HoldRequest.newBuilder().setId(holding).build());
        try (RawWorker worker = b.connectWorker("keys-slots", 3, "keys.slots")) {
            worker.credit(3);
            AssignedJob got = next(worker);
            assertThat(got.getLease().getJobId()).as("the held job's slot went to the next").isEqualTo(waiting);
            a.jobs().release(ReleaseRequest.newBuilder().setId(holding).build());
            assertThat(stateOf(holding)).isEqualTo(JobState.JOB_STATE_QUEUED);
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(500)))
                    .as("released, it waits for a slot again").isFalse();
            a.jobs().cancel(CancelRequest.newBuilder().setId(waiting).setReason("enough").build());
            AssignedJob after = next(worker);
            assertThat(after.getLease().getJobId()).as("the oldest waiting, the released one").isEqualTo(holding);
            worker.complete(after.getLease(), "{}");
            assertThat(next(worker).getLease().getJobId()).isEqualTo(last);
        }
    }

    @Test
    void aDelayedKeyedJobIsAdmittedOnceDue() {
        String id = a.submit(keyed("keys.later", "later", 1).toBuilder()
                .setDelay(com.google.protobuf.Duration.newBuilder().setSeconds(1)).build());
        try (RawWorker worker = b.connectWorker("keys-later", 1, "keys.later")) {
            worker.credit(1);
            assertThat(worker.await(BrokerMessage::hasAssign, scaled(Duration.ofSeconds(10))).getAssign().getJobs(0)
                    .getLease().getJobId()).isEqualTo(id);
        }
    }

    @Test
    void cancelNewestCancelsAJobThatFindsItsKeyFull() {
        JobSpec spec = keyed("keys.newest", "newest", 1).toBuilder()
                .setConcurrencyStrategy(io.jobwire.api.v1.ConcurrencyStrategy.CONCURRENCY_STRATEGY_CANCEL_NEWEST).build();
        String first = a.submit(spec);
        String second = b.submit(spec);
        await().atMost(PROMPTLY).until(() -> stateOf(second) == JobState.JOB_STATE_CANCELLED);
        assertThat(a.jobs().get(GetRequest.newBuilder().setId(second).build()).getLastError())
                .contains("concurrency key newest was at its limit (cancel-newest)");
        assertThat(stateOf(first)).isEqualTo(JobState.JOB_STATE_QUEUED);
        try (RawWorker worker = a.connectWorker("keys-newest", 2, "keys.newest")) {
            worker.credit(2);
            assertThat(next(worker).getLease().getJobId()).isEqualTo(first);
        }
    }

    @Test
    void cancelInProgressCancelsTheOldestHolderToMakeRoomForTheNewest() {
        JobSpec spec = keyed("keys.latest", "latest", 1).toBuilder()
                .setConcurrencyStrategy(io.jobwire.api.v1.ConcurrencyStrategy.CONCURRENCY_STRATEGY_CANCEL_IN_PROGRESS).build();
        try (RawWorker worker = a.connectWorker("keys-latest", 3, "keys.latest")) {
            worker.credit(3);
            String old = a.submit(spec);
            assertThat(next(worker).getLease().getJobId()).isEqualTo(old);
            String newer = b.submit(spec);
            assertThat(worker.await(BrokerMessage::hasCancelJob, PROMPTLY).getCancelJob().getJobId()).isEqualTo(old);
            assertThat(next(worker).getLease().getJobId()).as("the newest runs in the freed slot").isEqualTo(newer);
            Job cancelled = a.jobs().get(GetRequest.newBuilder().setId(old).build());
            assertThat(cancelled.getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
            assertThat(cancelled.getLastError()).contains("superseded by a newer job of concurrency key latest");
        }
    }

    @Test
    void aTypesDefaultKeyCapsTheWholeTypeAndItsDefaultLimitAppliesToJobsKeys() {
        a.jobs().registerJobType(io.jobwire.api.v1.RegisterJobTypeRequest.newBuilder().setRegistration(
                io.jobwire.api.v1.JobTypeRegistration.newBuilder().setName("keys.typed").setDefaults(
                        io.jobwire.api.v1.JobTypeDefaults.newBuilder().setConcurrencyKey("typed-all").setConcurrencyLimit(2)))
                .build());
        Job byType = a.jobs().get(GetRequest.newBuilder().setId(a.submit("keys.typed", "{}")).build());
        assertThat(byType.getConcurrencyKey()).isEqualTo("typed-all");
        assertThat(byType.getConcurrencyLimit()).isEqualTo(2);
        Job own = a.jobs().get(GetRequest.newBuilder().setId(a.submit(JobSpec.newBuilder().setType("keys.typed")
                .setConcurrencyKey("mine").build())).build());
        assertThat(own.getConcurrencyKey()).isEqualTo("mine");
        assertThat(own.getConcurrencyLimit()).as("the type's limit for the job's own key").isEqualTo(2);
        assertThat(own.getConcurrencyStrategy()).isEqualTo(io.jobwire.api.v1.ConcurrencyStrategy.CONCURRENCY_STRATEGY_QUEUE);
        a.submit("keys.typed", "{}");
        a.submit("keys.typed", "{}");
        try (RawWorker worker = b.connectWorker("keys-typed", 10, "keys.typed")) {
            worker.credit(10);
            // two of typed-all and the one of mine
            List<String> got = worker.awaitJobs(3).stream().map(job -> job.getLease().getJobId()).toList();
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(500)))
                    .as("the type's third job waits for a slot of typed-all").isFalse();
            assertThat(got).contains(own.getId());
        }
    }

    @Test
    void badConcurrencyFieldsAreRefusedAndWriteNothing() {
        long before = a.queryLong("SELECT count(*) FROM jobs");
        assertThat(codeOf(() -> a.jobs().submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder().setType("keys.bad")
                .setConcurrencyLimit(3)).build()))).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(codeOf(() -> a.jobs().submit(SubmitRequest.newBuilder().setJob(keyed("keys.bad", "k", 10_001)).build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(codeOf(() -> a.jobs().submit(SubmitRequest.newBuilder().setJob(keyed("keys.bad", "k".repeat(257), 1)).build())))
                .isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(io.jobwire.broker.testing.Calls.messageOf(() -> a.jobs().submit(SubmitRequest.newBuilder()
                .setJob(JobSpec.newBuilder().setType("keys.bad").setConcurrencyLimit(3)).build())))
                .isEqualTo("job.concurrency_key: is required with concurrency_limit or concurrency_strategy");
        assertThat(a.queryLong("SELECT count(*) FROM jobs")).isEqualTo(before);
    }
}
