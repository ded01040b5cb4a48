package io.jobwire.broker.dispatch;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.Hello;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobTypeSpec;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * A submit claims for a worker stream that has room in its own commit ({@link Dispatcher#submit}). In
 * PostgreSQL {@code now()} is the transaction's start, and a claim sets {@code updated_at = now()}, so a
 * running job with {@code updated_at = created_at} was claimed in the transaction that inserted it.
 */
class ClaimWithSubmitTest {
    /** Long enough that no poll round runs during a test: only submits and wake-ups claim. */
    private static final Duration NO_POLL = Duration.ofMinutes(5);
    private static final LeaseRef NO_SUCH_LEASE = LeaseRef.newBuilder().setJobId("999999999").setAttempt(1)
            .setLeaseToken(UUID.randomUUID().toString()).build();

    @Test
    void jobsSubmittedWhileAWorkerWaitsAreClaimedInTheirSubmitsCommit() {
        try (BrokerFixture fixture = BrokerFixture.start(config -> config.pollInterval(NO_POLL))) {
            RawWorker worker = fixture.connectWorker("ready", 1, "with.submit");
            worker.credit(20);
            // The first job may meet the dispatcher's round for the credit; after it, nothing wakes the
            // dispatcher (a job claimed with its submit is not news to it), so every submit claims.
            String first = fixture.submit("with.submit", "{}");
            List<AssignedJob> firstAssigned = worker.awaitJobs(1);
            assertThat(firstAssigned).extracting(job -> job.getLease().getJobId()).containsExactly(first);
            worker.complete(firstAssigned.get(0).getLease(), "{}");
            for (int i = 0; i < 10; i++) {
                String id = fixture.submit("with.submit", "{\"i\":" + i + "}");
                List<AssignedJob> assigned = worker.awaitJobs(1);
                assertThat(assigned).extracting(job -> job.getLease().getJobId()).containsExactly(id);
                assertThat(fixture.queryString("SELECT state || ' ' || (updated_at = created_at) FROM jobs WHERE id = " + id))
                        .as("job %s was claimed by its submit's transaction", id)
                        .isEqualTo("RUNNING true");
                worker.complete(assigned.get(0).getLease(), "{}");
            }
        }
    }

    @Test
    void aLargeBatchLeavesTheClaimToTheDispatcher() {
        try (BrokerFixture fixture = BrokerFixture.start(config -> config.pollInterval(NO_POLL))) {
            RawWorker worker = fixture.connectWorker("big", 50, "big.batch");
            worker.credit(50);
            worker.heartbeat(NO_SUCH_LEASE);
            SubmitBatchRequest.Builder batch = SubmitBatchRequest.newBuilder();
            for (int i = 0; i < 20; i++) {
                batch.addJobs(JobSpec.newBuilder().setType("big.batch").setPayload("{}"));
            }
            fixture.jobs().submitBatch(batch.build());
            assertThat(worker.awaitJobs(20)).hasSize(20);
            assertThat(fixture.queryLong("SELECT count(*) FROM jobs WHERE type = 'big.batch' AND state = 'RUNNING' "
                    + "AND started_at > created_at")).as("claimed after their insert committed").isEqualTo(20);
        }
    }

    @Test
    void theClaimWithASubmitTakesTheOlderDueJobFirst() {
        try (BrokerFixture fixture = BrokerFixture.start(config -> config.pollInterval(NO_POLL))) {
            // Due in an hour, then made due behind the broker's back (no wake-up): a backlog of one.
            String older = fixture.submit(JobSpec.newBuilder().setType("fair").setPayload("{}")
                    .setDelay(com.google.protobuf.Duration.newBuilder().setSeconds(3600)).build());
            RawWorker worker = fixture.connectWorker("fair-worker", 1, "fair");
            worker.credit(1);
            worker.heartbeat(NO_SUCH_LEASE); // a round trip on the stream: the credit has arrived
            untilQuiet(fixture);
            fixture.setRunAt(older, "now() - interval '1 minute'");

            String newer = fixture.submit("fair", "{}");

            assertThat(worker.awaitJobs(1)).extracting(job -> job.getLease().getJobId()).containsExactly(older);
            assertThat(fixture.queryString("SELECT state FROM jobs WHERE id = " + newer)).isEqualTo("QUEUED");
            assertThat(fixture.queryLong("SELECT count(*) FROM jobs a, jobs b WHERE a.id = " + older + " AND b.id = "
                    + newer + " AND a.updated_at = b.created_at")).as("claimed by the newer job's submit").isEqualTo(1);
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(300)))
                    .as("the worker has no room for the newer job").isFalse();
        }
    }

    @Test
    void moreRoomAloneMakesNoClaimAfterAClaimFoundNothing() {
        try (BrokerFixture fixture = BrokerFixture.start(config -> config.pollInterval(NO_POLL))) {
            Dispatcher dispatcher = fixture.broker().dispatcher();
            RawWorker worker = fixture.connectWorker("idle", 8, "idle.type");
            worker.credit(1);
            worker.heartbeat(NO_SUCH_LEASE);
            await().atMost(scaled(Duration.ofSeconds(10))).until(() -> dispatcher.claims() >= 1);
            untilQuiet(fixture);
            long before = dispatcher.claims();

            for (int i = 0; i < 5; i++) {
                worker.credit(1);
            }
            worker.heartbeat(NO_SUCH_LEASE);
            await().during(Duration.ofMillis(300)).atMost(scaled(Duration.ofSeconds(2)))
                    .until(() -> dispatcher.claims() == before);

            // News: a job that becomes due later wakes the dispatcher at its run_at, and it claims again.
            String later = fixture.submit(JobSpec.newBuilder().setType("idle.type").setPayload("{}")
                    .setDelay(com.google.protobuf.Duration.newBuilder().setNanos(300_000_000)).build());
            assertThat(worker.awaitJobs(1)).extracting(job -> job.getLease().getJobId()).containsExactly(later);
            assertThat(dispatcher.claims()).isGreaterThan(before);
        }
    }

    @Test
    void aClaimThatSkippedATypeAtItsLimitDoesNotCountAsFindingNothing() {
        try (BrokerFixture fixture = BrokerFixture.start(config -> config.pollInterval(NO_POLL))) {
            RawWorker worker = RawWorker.open(fixture.workerStub());
            worker.send(WorkerMessage.newBuilder().setHello(Hello.newBuilder().setWorkerId("limited").setMaxConcurrency(4)
                    .addJobTypes(JobTypeSpec.newBuilder().setName("one.at.a.time").setMaxConcurrency(1))
                    .addJobTypes(JobTypeSpec.newBuilder().setName("any"))).build());
            worker.await(BrokerMessage::hasWelcome);
            worker.credit(4);
            worker.heartbeat(NO_SUCH_LEASE);
            untilQuiet(fixture);
            String first = fixture.submit("one.at.a.time", "{}");
            List<AssignedJob> running = worker.awaitJobs(1);
            assertThat(running).extracting(job -> job.getLease().getJobId()).containsExactly(first);
            String second = fixture.submit("one.at.a.time", "{}");
            // A round that may claim only "any" (the other type is at its limit) finds nothing.
            worker.credit(1);
            worker.heartbeat(NO_SUCH_LEASE);
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(300))).isFalse();

            worker.complete(running.get(0).getLease(), "{}");
            worker.credit(1);
            assertThat(worker.awaitJobs(1)).extracting(job -> job.getLease().getJobId()).containsExactly(second);
        }
    }

    @Test
    void whileASubmitsClaimWaitsTheDispatcherClaimsTheStreamsOtherRoom() throws Exception {
        try (BrokerFixture fixture = BrokerFixture.start(config -> config.pollInterval(Duration.ofMillis(200)));
             java.sql.Connection holder = java.sql.DriverManager.getConnection(fixture.jdbcUrl())) {
            // A due job the dispatcher has not heard of, and a submit whose insert waits for the test's lock.
            String other = fixture.submit(JobSpec.newBuilder().setType("other").setPayload("{}")
                    .setDelay(com.google.protobuf.Duration.newBuilder().setSeconds(3600)).build());
            fixture.sql("""
                    CREATE FUNCTION wait_for_the_test() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NEW; END $$""");
            fixture.sql("CREATE TRIGGER wait_for_the_test BEFORE INSERT ON live_jobs FOR EACH ROW "
                    + "WHEN (NEW.type = 'slow.insert') EXECUTE FUNCTION wait_for_the_test()");
            RawWorker worker = fixture.connectWorker("two-slots", 2, "slow.insert", "other");
            worker.credit(2);
            worker.heartbeat(NO_SUCH_LEASE); // the credit has arrived
            untilQuiet(fixture);
            try (java.sql.Statement lock = holder.createStatement()) {
                lock.execute("SELECT pg_advisory_lock(4242)");
            }
            java.util.concurrent.CompletableFuture<String> slow = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> fixture.submit("slow.insert", "{}"));
            await("the submit's insert waits for the lock").atMost(scaled(Duration.ofSeconds(10))).until(() ->
                    fixture.queryLong("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 "
                            + "AND NOT granted") == 1);

            // The submit's claim holds one slot of two; the other is the dispatcher's to fill.
            fixture.setRunAt(other, "now() - interval '1 minute'");
            assertThat(worker.awaitJobs(1)).extracting(job -> job.getLease().getJobId()).containsExactly(other);
            assertThat(slow).as("the submit still waits").isNotDone();

            try (java.sql.Statement unlock = holder.createStatement()) {
                unlock.execute("SELECT pg_advisory_unlock(4242)");
            }
            String id = slow.get(scaled(Duration.ofSeconds(10)).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            assertThat(worker.awaitJobs(1)).extracting(job -> job.getLease().getJobId()).containsExactly(id);
            assertThat(fixture.queryLong("SELECT count(*) FROM jobs WHERE state = 'RUNNING'"))
                    .as("never more than the stream's two slots").isEqualTo(2);
        }
    }

    /**
     * The change listener resyncs a second after it connects: news, after which every stream is claimed for
     * again. A test of what happens without news waits until that is over and the dispatcher is idle.
     */
    private static void untilQuiet(BrokerFixture fixture) {
        await().atMost(scaled(Duration.ofSeconds(10))).until(() -> fixture.broker().quiet());
    }

    @Test
    void aFailingClaimDoesNotFailTheSubmit() {
        try (BrokerFixture fixture = BrokerFixture.start()) {
            RawWorker worker = fixture.connectWorker("refused", 1, "refused");
            worker.credit(1);
            worker.heartbeat(NO_SUCH_LEASE);
            fixture.sql("""
                    CREATE FUNCTION refuse_claims() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'claims refused by the test'; END $$""");
            fixture.sql("CREATE TRIGGER refuse_claims BEFORE UPDATE ON live_jobs FOR EACH ROW "
                    + "WHEN (NEW.state = 'RUNNING') EXECUTE FUNCTION refuse_claims()");

            String id = fixture.submit("refused", "{}");

            assertThat(fixture.queryString("SELECT state FROM jobs WHERE type = 'refused'"))
                    .as("inserted once, by the insert alone, after the insert with the claim rolled back")
                    .isEqualTo("QUEUED");
            assertThat(worker.receives(BrokerMessage::hasAssign, Duration.ofMillis(300))).isFalse();
            fixture.sql("DROP TRIGGER refuse_claims ON live_jobs");
            assertThat(worker.awaitJobs(1)).extracting(job -> job.getLease().getJobId()).containsExactly(id);
        }
    }
}
