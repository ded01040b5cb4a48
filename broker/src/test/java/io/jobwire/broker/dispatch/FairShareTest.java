package io.jobwire.broker.dispatch;

import static io.jobwire.broker.testing.Calls.codeOf;
import static io.jobwire.broker.testing.Calls.messageOf;
import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.jobwire.api.v1.FairShare;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobTypeRegistration;
import io.jobwire.api.v1.ListJobTypesRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.worker.JobType;
import io.jobwire.worker.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Fair share on two brokers: jobs are submitted through both, then one worker that runs one job at a time
 * takes them, and the order of their starts (from the database's attempt records) shows whose turn came
 * when. The same submissions to a type without fair share are the control: there the backlog queued first
 * goes first, so each check can fail.
 */
class FairShareTest {
    @RegisterExtension
    @Order(1)
    static final BrokerFixture a = BrokerFixture.perClass();
    @RegisterExtension
    @Order(2)
    static final BrokerFixture b = BrokerFixture.perClassBeside(a);

    /** Registers the type with fair share through broker a, and waits until broker b's registry has it too. */
    private static void registerFair(String type, Map<String, Integer> weights) {
        a.client().registerJobType(JobTypeRegistration.newBuilder().setName(type)
                .setFairShare(FairShare.newBuilder().putAllWeights(weights)).build());
        await().atMost(scaled(Duration.ofSeconds(10))).until(() -> b.jobs().listJobTypes(ListJobTypesRequest.getDefaultInstance())
                .getJobTypesList().stream().anyMatch(info -> info.getName().equals(type) && info.getRegistration().hasFairShare()));
    }

    /** Submits n jobs of the owner, half through each broker, in batches of 100. */
    private static void submit(String type, String owner, int n) {
        List<JobSpec> batch = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            batch.add(JobSpec.newBuilder().setType(type).setOwner(owner).build());
            if (batch.size() == 100 || i == n - 1) {
                ((i / 100) % 2 == 0 ? a : b).client().submitBatch(batch);
                batch.clear();
            }
        }
    }

    /** Runs every job of the type with one worker on broker a that takes one job at a time. */
    private static void runAll(String type) {
        try (Worker worker = Worker.builder().target("127.0.0.1:" + a.broker().port()).concurrency(1)
                .handle(JobType.of(type), job -> "{}").start()) {
            await().atMost(scaled(Duration.ofSeconds(60))).until(() -> a.queryLong(
                    "SELECT count(*) FROM live_jobs WHERE type = '" + type + "'") == 0);
        }
    }

    /** The owners of the type's jobs in the order their (only) attempts started. */
    private static List<String> startOrder(String type) {
        String all = a.queryString("SELECT string_agg(j.owner, ',' ORDER BY h.started_at, j.id) "
                + "FROM job_attempt_history h JOIN jobs j ON j.id = h.job_id WHERE j.type = '" + type + "'");
        return Arrays.asList(all.split(","));
    }

    private static long count(List<String> owners, String owner) {
        return owners.stream().filter(owner::equals).count();
    }

    @Test
    void oneOwnersBacklogDoesNotHoldUpAnothersJobs() {
        for (String type : List.of("fs.fair", "fs.control")) {
            if (type.equals("fs.fair")) {
                registerFair(type, Map.of());
            }
            submit(type, "big", 200);
            submit(type, "small", 10);
            runAll(type);
        }
        List<String> fair = startOrder("fs.fair");
        assertThat(fair).hasSize(210);
        assertThat(count(fair.subList(0, 22), "small")).as("small's 10 jobs among the first 22 starts: " + fair.subList(0, 22))
                .isEqualTo(10);
        List<String> control = startOrder("fs.control");
        assertThat(count(control.subList(0, 200), "small")).as("without fair share the backlog goes first").isZero();
    }

    @Test
    void weightsShareTheStartsInProportion() {
        registerFair("fs.weighted", Map.of("heavy", 3));
        submit("fs.weighted", "heavy", 120);
        submit("fs.weighted", "light", 120);
        runAll("fs.weighted");
        List<String> first = startOrder("fs.weighted").subList(0, 80);
        assertThat(count(first, "heavy")).as("3 of every 4 starts while both wait: " + first).isBetween(57L, 63L);
    }

    /**
     * Once a type ran dry, no owner keeps credit from before: the owner that had a long backlog and one
     * that had none start level again (each batch joins at the furthest turn any owner reached).
     */
    @Test
    void afterTheTypeRanDryOwnersStartLevel() {
        registerFair("fs.dry", Map.of());
        submit("fs.dry", "busy", 100);
        runAll("fs.dry");
        submit("fs.dry", "busy", 40);
        submit("fs.dry", "idle", 40);
        runAll("fs.dry");
        List<String> again = startOrder("fs.dry").subList(100, 140);
        assertThat(count(again, "busy")).as("after the ring ran dry, turns alternate: " + again).isBetween(18L, 22L);
    }

    /**
     * A job scheduled for later waits in the ring behind every due entry of its type (so claims do not walk
     * past it), and runs when due.
     */
    @Test
    void aJobForLaterWaitsBehindTheDueOnesAndRunsWhenDue() {
        registerFair("fs.later", Map.of());
        String later = b.submit(JobSpec.newBuilder().setType("fs.later").setOwner("small")
                .setDelay(com.google.protobuf.Duration.newBuilder().setSeconds(1)).build());
        submit("fs.later", "big", 5);
        assertThat(a.queryLong("SELECT fair_seq FROM job_ready WHERE job_id = " + later))
                .isEqualTo(a.queryLong("SELECT jobwire_fair_later()"));
        assertThat(a.queryLong("SELECT fair_seq FROM live_jobs WHERE id = " + later)).isPositive();
        runAll("fs.later");
        assertThat(startOrder("fs.later")).hasSize(6);
    }

    /** A finished job retried takes a new turn behind its owner's jobs, not turn 0 ahead of every owner's. */
    @Test
    void aRetriedJobTakesANewTurnOfItsOwner() {
        registerFair("fs.retry", Map.of());
        String first = b.submit(JobSpec.newBuilder().setType("fs.retry").setOwner("again").build());
        String second = b.submit(JobSpec.newBuilder().setType("fs.retry").setOwner("again").build());
        a.client().cancel(first, "to retry it");
        a.client().retry(first);
        long turn = a.queryLong("SELECT fair_seq FROM live_jobs WHERE id = " + first);
        assertThat(turn).isGreaterThan(a.queryLong("SELECT fair_seq FROM live_jobs WHERE id = " + second));
        // (the entry it had when cancelled may still be there, as with any type: it ran at its old turn then)
        assertThat(a.queryLong("SELECT count(*) FROM job_ready WHERE job_id = " + first + " AND fair_seq = " + turn)).isOne();
        runAll("fs.retry");
    }

    @Test
    void aWeightOutOfRangeIsRefusedNamingTheField() {
        Runnable refused = () -> registerFair("fs.bad", Map.of("x", 0));
        assertThat(codeOf(refused)).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(messageOf(refused)).contains("registration.fair_share.weights[x]").contains("between 1 and 1000");
    }
}
