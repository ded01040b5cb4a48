package io.jobwire.broker.dispatch;

import static io.jobwire.broker.testing.Calls.codeOf;
import static io.jobwire.broker.testing.Calls.messageOf;
import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.Status;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.DependencyFailure;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.OpsAndShop;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.client.JobwireClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Job dependencies on two brokers: a job WAITING for others is queued only once they all succeeded, and
 * never starts before they finished (database times, checked over every dependent of the test); fan-in
 * and fan-out; a failed or cancelled dependency cancels its dependents, down the chain, or lets them run
 * by choice; dependencies finished before the submit count at once; what a dead broker left is resolved
 * by the maintenance pass; ids must exist and be the caller's.
 */
class DependencyTest {
    private static final Duration PROMPTLY = scaled(Duration.ofSeconds(10));

    @RegisterExtension
    @Order(1)
    static final BrokerFixture a = BrokerFixture.perClass();
    @RegisterExtension
    @Order(2)
    static final BrokerFixture b = BrokerFixture.perClassBeside(a);

    /** After every test, before the brokers stop. */
    @AfterAll
    static void noDependentStartedEarly() {
        checkNoDependentStartedEarly();
    }

    private static void checkNoDependentStartedEarly() {
        // the invariant over every dependent the tests made: none started before its dependencies finished
        assertThat(a.queryLong("""
                SELECT count(*) FROM jobs j
                CROSS JOIN LATERAL unnest(j.depends_on) d
                JOIN jobs dep ON dep.id = d
                JOIN job_attempt_history att ON att.job_id = j.id
                -- a job's dependencies are those it waits for from its submit, or from its last AwaitJobs on
                WHERE att.attempt > coalesce((SELECT max(w.attempt) FROM job_attempt_history w
                                              WHERE w.job_id = j.id AND w.outcome = 'awaiting'), 0)
                  AND (att.started_at < dep.finished_at OR dep.finished_at IS NULL
                       OR (j.on_dependency_failure = 'cancel' AND dep.state <> 'SUCCEEDED'))
                """)).as("attempts of dependents that started before a dependency finished (or succeeded)").isZero();
        assertThat(a.queryLong("SELECT count(*) FROM jobs WHERE depends_on IS NOT NULL AND attempt > 0"))
                .as("dependents that ran, for the check above to mean something").isGreaterThan(5);
    }

    private static JobSpec dependent(String type, DependencyFailure onFailure, String... ids) {
        return JobSpec.newBuilder().setType(type).addAllDependsOn(List.of(ids)).setOnDependencyFailure(onFailure).build();
    }

    private static Job get(String id) {
        return a.jobs().get(GetRequest.newBuilder().setId(id).build());
    }

    private static void awaitState(String id, JobState state) {
        await().atMost(PROMPTLY).until(() -> get(id).getState() == state);
    }

    private static AssignedJob next(RawWorker worker) {
        return worker.await(BrokerMessage::hasAssign, PROMPTLY).getAssign().getJobs(0);
    }

    @Test
    void aJobWaitsForAllItDependsOnAndRunsOnceTheyAllSucceeded() {
        String then;
        try (RawWorker worker = a.connectWorker("dep-fan-in", 10, "dep.first", "dep.then")) {
            worker.credit(10);
            String first = a.submit("dep.first", "{}");
            String second = b.submit("dep.first", "{}");
            then = b.submit(dependent("dep.then", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, first, second));
            Job waiting = get(then);
            assertThat(waiting.getState()).isEqualTo(JobState.JOB_STATE_WAITING);
            assertThat(waiting.getDependsOnList()).containsExactly(first, second);
            assertThat(waiting.getOnDependencyFailure()).isEqualTo(DependencyFailure.DEPENDENCY_FAILURE_CANCEL);
            List<AssignedJob> firsts = worker.awaitJobs(2);
            assertThat(firsts).extracting(j -> j.getLease().getJobId()).containsExactlyInAnyOrder(first, second);
            worker.complete(firsts.get(0).getLease(), "{}");
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(500))).as("one of two done").isFalse();
            assertThat(get(then).getState()).isEqualTo(JobState.JOB_STATE_WAITING);
            worker.complete(firsts.get(1).getLease(), "{}");
            AssignedJob run = next(worker);
            assertThat(run.getLease().getJobId()).isEqualTo(then);
            worker.complete(run.getLease(), "{}");
        }
        assertThat(a.queryLong("SELECT count(*) FROM job_dependencies WHERE job_id = " + then)).isZero();
    }

    @Test
    void manyJobsWaitForOneAndAllRunWhenItSucceeds() {
        String root = b.submit("dep.root", "{}");
        List<String> leaves = new ArrayList<>();
        List<JobSpec> batch = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            batch.add(dependent("dep.leaf", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, root));
        }
        a.client().submitBatch(batch).forEach(r -> leaves.add(r.getJob().getId()));
        assertThat(a.queryLong("SELECT count(*) FROM live_jobs WHERE type = 'dep.leaf' AND state = 'WAITING'")).isEqualTo(20);
        try (RawWorker worker = b.connectWorker("dep-fan-out", 30, "dep.root", "dep.leaf")) {
            worker.credit(30);
            AssignedJob rootJob = next(worker);
            assertThat(rootJob.getLease().getJobId()).isEqualTo(root);
            worker.complete(rootJob.getLease(), "{}");
            List<AssignedJob> ran = worker.awaitJobs(20);
            assertThat(ran).extracting(j -> j.getLease().getJobId()).containsExactlyInAnyOrderElementsOf(leaves);
            ran.forEach(job -> worker.complete(job.getLease(), "{}"));
        }
        leaves.forEach(id -> awaitState(id, JobState.JOB_STATE_SUCCEEDED));
    }

    @Test
    void aFailedDependencyCancelsItsDependentsDownTheChainUnlessTheyRunAnyway() {
        try (RawWorker worker = a.connectWorker("dep-fail", 10, "dep.doomed", "dep.after", "dep.anyway")) {
            worker.credit(10);
            String doomed = a.submit(JobSpec.newBuilder().setType("dep.doomed").setMaxAttempts(1).build());
            String after = b.submit(dependent("dep.after", DependencyFailure.DEPENDENCY_FAILURE_CANCEL, doomed));
            String afterAfter = a.submit(dependent("dep.after", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, after));
            String anyway = b.submit(dependent("dep.anyway", DependencyFailure.DEPENDENCY_FAILURE_RUN, doomed));
            AssignedJob run = next(worker);
            assertThat(run.getLease().getJobId()).isEqualTo(doomed);
            worker.fail(run.getLease(), "it broke", false);
            awaitState(after, JobState.JOB_STATE_CANCELLED);
            assertThat(get(after).getLastError()).isEqualTo("dependency " + doomed + " ended FAILED");
            awaitState(afterAfter, JobState.JOB_STATE_CANCELLED);
            assertThat(get(afterAfter).getLastError()).isEqualTo("dependency " + after + " ended CANCELLED");
            AssignedJob ranAnyway = next(worker);
            assertThat(ranAnyway.getLease().getJobId()).isEqualTo(anyway);
            worker.complete(ranAnyway.getLease(), "{}");
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(300))).isFalse();
        }
    }

    @Test
    void dependenciesFinishedBeforeTheSubmitCountAtOnce() {
        try (RawWorker worker = b.connectWorker("dep-before", 10, "dep.done", "dep.late")) {
            worker.credit(10);
            String ok = a.submit("dep.done", "{}");
            worker.complete(next(worker).getLease(), "{}");
            awaitState(ok, JobState.JOB_STATE_SUCCEEDED);
            String cancelled = a.submit("dep.done", "{}");
            a.jobs().cancel(CancelRequest.newBuilder().setId(cancelled).build());
            // the cancelled job may have been assigned before the cancel: the worker is told, nothing to do

            String late = a.submit(dependent("dep.late", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, ok));
            AssignedJob run = worker.await(m -> m.hasAssign() && m.getAssign().getJobs(0).getType().equals("dep.late"), PROMPTLY)
                    .getAssign().getJobs(0);
            assertThat(run.getLease().getJobId()).isEqualTo(late);
            worker.complete(run.getLease(), "{}");
            String doomed = b.submit(dependent("dep.late", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, ok, cancelled));
            awaitState(doomed, JobState.JOB_STATE_CANCELLED);
            assertThat(get(doomed).getLastError()).isEqualTo("dependency " + cancelled + " ended CANCELLED");
        }
    }

    @Test
    void aWaitingJobCanBeCancelledAndLeavesNothingWaiting() {
        String root = a.submit("dep.never", "{}"); // no worker takes it
        String waiting = b.submit(dependent("dep.cancelme", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, root));
        assertThat(b.jobs().cancel(CancelRequest.newBuilder().setId(waiting).build()).getState())
                .isEqualTo(JobState.JOB_STATE_CANCELLED);
        assertThat(a.queryLong("SELECT count(*) FROM job_dependencies WHERE job_id = " + waiting)).isZero();
        assertThat(a.queryLong("SELECT count(*) FROM job_dependencies WHERE job_id = " + root)).isZero();
    }

    @Test
    void aWaitingJobLeftByADeadBrokerIsResolvedByTheMaintenancePass() {
        String done = a.submit("dep.stranded-root", "{}");
        try (RawWorker worker = a.connectWorker("dep-stranded", 1, "dep.stranded-root")) {
            worker.credit(1);
            worker.complete(next(worker).getLease(), "{}");
        }
        awaitState(done, JobState.JOB_STATE_SUCCEEDED);
        // what a broker that died between the finish and its resolution leaves: a WAITING job whose
        // dependency finished, with no one told
        String left = a.submit("dep.stranded", "{}");
        a.sql("UPDATE live_jobs SET state = 'WAITING', depends_on = ARRAY[" + done + "]::bigint[], "
                + "on_dependency_failure = 'cancel' WHERE id = " + left);
        a.sql("INSERT INTO job_dependencies (job_id, depends_on) VALUES (" + left + ", " + done + ")");
        try (RawWorker worker = b.connectWorker("dep-stranded-2", 1, "dep.stranded")) {
            worker.credit(1);
            AssignedJob run = worker.await(BrokerMessage::hasAssign, scaled(Duration.ofSeconds(20))).getAssign().getJobs(0);
            assertThat(run.getLease().getJobId()).isEqualTo(left);
            worker.complete(run.getLease(), "{}");
        }
    }

    @Test
    void dependenciesMustBeJobsTheCallerMaySeeAndBadOnesChangeNothing() {
        try (OpsAndShop secured = OpsAndShop.start(a.jdbcUrl())) {
            JobwireClient asShop = secured.asShop();
            JobwireClient asOps = secured.asOps();
            String others = asOps.submit(JobSpec.newBuilder().setType("dep.owned").setOwner("other").build()).getJob().getId();
            String mine = asShop.submit(JobSpec.newBuilder().setType("dep.owned").build()).getJob().getId();
            String unknown = "987654321";
            assertThat(messageOf(() -> asShop.submit(dependent("dep.bad", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, mine, others))))
                    .isEqualTo("INVALID_ARGUMENT: job.depends_on[1]: no job " + others);
            assertThat(messageOf(() -> asShop.submit(dependent("dep.bad", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, unknown))))
                    .as("the same answer as for another owner's job").isEqualTo("INVALID_ARGUMENT: job.depends_on[0]: no job " + unknown);
            assertThat(codeOf(() -> asShop.submitBatch(List.of(dependent("dep.bad", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, mine),
                    dependent("dep.bad", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, others)))))
                    .isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(messageOf(() -> asShop.submit(dependent("dep.bad", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, "x1"))))
                    .isEqualTo("INVALID_ARGUMENT: job.depends_on[0]: is not a job id: \"x1\"");
            assertThat(messageOf(() -> asShop.submit(JobSpec.newBuilder().setType("dep.bad")
                    .setOnDependencyFailure(DependencyFailure.DEPENDENCY_FAILURE_RUN).build())))
                    .isEqualTo("INVALID_ARGUMENT: job.on_dependency_failure: goes with depends_on");
            assertThat(a.queryLong("SELECT count(*) FROM jobs WHERE type = 'dep.bad'")).as("nothing written").isZero();
            String byAdmin = asOps.submit(dependent("dep.admin", DependencyFailure.DEPENDENCY_FAILURE_UNSPECIFIED, others, mine))
                    .getJob().getId();
            assertThat(get(byAdmin).getState()).isEqualTo(JobState.JOB_STATE_WAITING);
            asOps.cancel(byAdmin);
        }
    }

    @Test
    void aHandlerAwaitsTheChildrenItSubmittedWithoutHoldingItsSlotAndRunsAgainWhenTheyAreDone() {
        java.util.concurrent.atomic.AtomicInteger parentRuns = new java.util.concurrent.atomic.AtomicInteger();
        // its job token may submit the children's type (registered where the worker's calls go: no wait for
        // the other broker to read the registry again)
        b.jobs().registerJobType(io.jobwire.api.v1.RegisterJobTypeRequest.newBuilder().setRegistration(
                io.jobwire.api.v1.JobTypeRegistration.newBuilder().setName("dep.parent").addUses("dep.child")).build());
        String parent = a.submit("dep.parent", "{\"parts\": 3}");
        try (io.jobwire.worker.Worker worker = io.jobwire.worker.Worker.builder().target("127.0.0.1:" + b.broker().port())
                .concurrency(1) // the children run in the slot the parent gave up
                .handle(io.jobwire.worker.JobType.of("dep.parent"), job -> {
                    parentRuns.incrementAndGet();
                    if (job.dependsOn().isEmpty()) {
                        List<String> children = new ArrayList<>();
                        for (int i = 1; i <= 3; i++) {
                            children.add(job.client().submit(JobSpec.newBuilder().setType("dep.child")
                                    .setPayload("{\"n\": " + i + "}").build()).getJob().getId());
                        }
                        return job.awaitJobs(children);
                    }
                    int sum = 0;
                    for (String child : job.dependsOn()) {
                        sum += Integer.parseInt(job.client().get(child).getResult());
                    }
                    return sum;
                })
                .handle(io.jobwire.worker.JobType.of("dep.child"), job -> job.payload(java.util.Map.class).get("n"))
                .start()) {
            await().atMost(scaled(Duration.ofSeconds(30))).until(() -> get(parent).getState() == JobState.JOB_STATE_SUCCEEDED);
        }
        Job done = get(parent);
        assertThat(done.getResult()).isEqualTo("6");
        assertThat(parentRuns.get()).isEqualTo(2);
        assertThat(done.getAttemptsList()).extracting(att -> att.getOutcome().name())
                .containsExactly("ATTEMPT_OUTCOME_AWAITING", "ATTEMPT_OUTCOME_SUCCEEDED");
        assertThat(done.getDependsOnCount()).isEqualTo(3);
        assertThat(done.getOnDependencyFailure()).isEqualTo(DependencyFailure.DEPENDENCY_FAILURE_RUN);
        for (String child : done.getDependsOnList()) {
            assertThat(get(child).getParentId()).isEqualTo(parent);
        }
    }

    @Test
    void awaitingJobsThatDoNotExistIsRefusedAndTheAttemptRunsOn() {
        String job = a.submit("dep.await-bad", "{}");
        try (RawWorker worker = a.connectWorker("dep-await-bad", 1, "dep.await-bad")) {
            worker.credit(1);
            AssignedJob run = next(worker);
            worker.send(io.jobwire.api.v1.WorkerMessage.newBuilder().setAwaitJobs(io.jobwire.api.v1.AwaitJobs.newBuilder()
                    .setLease(run.getLease()).addJobIds("987654321")).build());
            io.jobwire.api.v1.Ack refused = worker.awaitAck(job, io.jobwire.api.v1.AckAction.ACK_ACTION_AWAIT);
            assertThat(refused.getStatus()).isNotEqualTo(io.jobwire.api.v1.AckStatus.ACK_STATUS_ACCEPTED);
            assertThat(refused.getMessage()).isEqualTo("await_jobs.job_ids[0]: no job 987654321");
            assertThat(get(job).getState()).isEqualTo(JobState.JOB_STATE_RUNNING);
            worker.complete(run.getLease(), "{}");
        }
    }
}
