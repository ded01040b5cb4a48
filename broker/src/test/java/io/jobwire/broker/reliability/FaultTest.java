package io.jobwire.broker.reliability;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.FairShare;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.JobTypeRegistration;
import io.jobwire.broker.reliability.Processes.BrokerProcess;
import io.jobwire.broker.testing.Slowness;
import io.jobwire.broker.reliability.Processes.WorkerProcess;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.TestPostgres;
import io.jobwire.client.JobwireClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults with real processes: brokers and workers killed, frozen, shut down under load. Every test ends
 * with the {@link Oracle}'s check of the promises.
 */
@Tag("fault")
class FaultTest {
    private static final Duration DRAIN = Duration.ofSeconds(120);
    /** Reads the payload and answers with shell builtins only: a process start costs more than the job. */
    private static final String QUICK = "while read -r _; do :; done\necho '{\"ok\": true}'\n";

    @TempDir
    Path dir;

    private static JobwireClient client(int... ports) {
        JobwireClient.Builder builder = JobwireClient.builder().deadline(Duration.ofSeconds(5));
        for (int port : ports) {
            builder.target("127.0.0.1:" + port);
        }
        return builder.build();
    }

    private static String targets(int... ports) {
        List<String> list = new ArrayList<>();
        for (int port : ports) {
            list.add("127.0.0.1:" + port);
        }
        return String.join(",", list);
    }

    private void awaitDrained(Oracle oracle) {
        await().atMost(DRAIN).pollInterval(Duration.ofMillis(250)).until(oracle::drained);
    }

    @Test
    void brokerKilledWithThousandsOfJobsInFlightLosesNothing() throws Exception {
        String db = TestPostgres.newDatabase();
        int port = Processes.freePort();
        Path executions = dir.resolve("executions.log");
        Path script = Oracle.script(dir, "quick.sh", executions, QUICK);
        Oracle oracle = new Oracle(db, "fault.kill_broker");
        BrokerProcess broker = new BrokerProcess(port, db, dir.resolve("broker.log")).start();
        try (WorkerProcess w1 = new WorkerProcess("w1", targets(port), "fault.kill_broker", script, 16, dir.resolve("w1.log")).start();
             WorkerProcess w2 = new WorkerProcess("w2", targets(port), "fault.kill_broker", script, 16, dir.resolve("w2.log")).start();
             JobwireClient client = client(port)) {
            CompletableFuture<Void> producing = CompletableFuture.runAsync(
                    () -> oracle.submit(client, 700, 140, i -> "{\"i\": " + i + "}"));
            await().atMost(DRAIN).until(() -> oracle.count("SELECT count(*) FROM jobs WHERE state = 'SUCCEEDED'") > 250);
            oracle.acknowledgedIds().stream().limit(3).forEach(id -> oracle.watch(client, id));

            broker.kill();
            Oracle.sleep(500);
            broker = new BrokerProcess(port, db, dir.resolve("broker-2.log")).start();

            producing.get();
            awaitDrained(oracle);
            assertThat(oracle.acknowledgedIds()).hasSize(700);
            oracle.check(List.of(executions), Set.of(), client);
        } finally {
            broker.close();
        }
    }

    @Test
    void killedWorkersJobRunsAgainElsewhereWithinLeasePlusReaperInterval() throws Exception {
        try (BrokerFixture broker = BrokerFixture.start(); JobwireClient client = client(broker.broker().port())) {
            Path executions = dir.resolve("executions.log");
            // The first attempt runs until its worker is killed, however slow the machine; the rerun is quick.
            Path script = Oracle.script(dir, "slow.sh", executions,
                    "cat > /dev/null\nif [ \"$JOBWIRE_ATTEMPT\" = 1 ]; then sleep 60; fi\necho '\"done\"'\n");
            Oracle oracle = new Oracle(broker.jdbcUrl(), "fault.kill_worker");
            String port = targets(broker.broker().port());
            try (WorkerProcess doomed = new WorkerProcess("doomed", port, "fault.kill_worker", script, 1, dir.resolve("a.log")).start()) {
                oracle.submit(client, 1, 1, i -> "{}");
                String id = oracle.acknowledgedIds().iterator().next();
                oracle.watch(client, id);
                await().atMost(scaled(Duration.ofSeconds(30))).until(() -> "doomed".equals(client.get(id).getWorkerId()));
                try (WorkerProcess survivor = new WorkerProcess("survivor", port, "fault.kill_worker", script, 1,
                        dir.resolve("b.log")).start()) {
                    await().atMost(scaled(Duration.ofSeconds(30))).until(() -> broker.queryLong(
                            "SELECT count(*) FROM worker_sessions WHERE worker_id = 'survivor'") == 1);
                    long killedAt = System.nanoTime();
                    doomed.kill();
                    try {
                        await().atMost(scaled(Duration.ofSeconds(10))).pollInterval(Duration.ofMillis(50))
                                .until(() -> client.get(id).getAttempt() == 2);
                    } catch (org.awaitility.core.ConditionTimeoutException e) {
                        throw new AssertionError("after the kill, job " + id + ": " + broker.queryString(
                                "SELECT state || ' attempt ' || attempt || ' worker ' || worker_id || ' run_at '"
                                        + " || run_at || ' lease until ' || coalesce(lease_expires_at::text, '-')"
                                        + " || ' now ' || now() FROM jobs WHERE id = " + id) + "; sessions: "
                                + broker.queryString("SELECT string_agg(worker_id || ' free ' || free_capacity || ' held '"
                                + " || in_flight, ', ') FROM worker_sessions"), e);
                    }
                    Duration rerun = Duration.ofNanos(System.nanoTime() - killedAt);
                    System.out.printf("killed worker's job claimed again after %d ms (lease 2000 ms, reaper 200 ms)%n",
                            rerun.toMillis());
                    assertThat(rerun).as("lease 2 s + reaper 0.2 s + slack, on a machine %.1f times as busy as an idle one",
                            Slowness.factor()).isLessThan(scaled(Duration.ofMillis(3500)));
                    awaitDrained(oracle);
                    assertThat(client.get(id).getAttemptsList()).extracting(a -> a.getWorkerId() + " " + a.getOutcome().name())
                            .containsExactly("doomed ATTEMPT_OUTCOME_LEASE_EXPIRED", "survivor ATTEMPT_OUTCOME_SUCCEEDED");
                    oracle.check(List.of(executions), Set.of(), client);
                }
            }
        }
    }

    @Test
    void frozenWorkersLateCompletionIsRejected() throws Exception {
        try (BrokerFixture broker = BrokerFixture.start(); JobwireClient client = client(broker.broker().port())) {
            Path executions = dir.resolve("executions.log");
            // Attempt 1 finishes only once the test thaws its worker, however slow the machine.
            Path thaw = dir.resolve("thaw");
            Path script = Oracle.script(dir, "attempt.sh", executions, "cat > /dev/null\n"
                    + "if [ \"$JOBWIRE_ATTEMPT\" = 1 ]; then while [ ! -e " + thaw + " ]; do sleep 0.1; done; fi\n"
                    + "echo \"\\\"from attempt $JOBWIRE_ATTEMPT\\\"\"\n");
            Oracle oracle = new Oracle(broker.jdbcUrl(), "fault.freeze");
            String port = targets(broker.broker().port());
            try (WorkerProcess frozen = new WorkerProcess("frozen", port, "fault.freeze", script, 1, dir.resolve("a.log")).start()) {
                oracle.submit(client, 1, 1, i -> "{}");
                String id = oracle.acknowledgedIds().iterator().next();
                await().atMost(scaled(Duration.ofSeconds(30))).until(() -> "frozen".equals(client.get(id).getWorkerId()));
                frozen.signal("STOP");
                try (WorkerProcess other = new WorkerProcess("other", port, "fault.freeze", script, 1, dir.resolve("b.log")).start()) {
                    await().atMost(scaled(Duration.ofSeconds(30))).until(() -> client.get(id).getState() == JobState.JOB_STATE_SUCCEEDED);
                    frozen.signal("CONT");
                    java.nio.file.Files.createFile(thaw);
                    // The thawed worker deals with its stale attempt now: either its SDK sees first that the
                    // lease ran out and sends nothing, or it sends the outcome and the broker refuses it.
                    await().atMost(scaled(Duration.ofSeconds(30))).until(() -> {
                        String log = java.nio.file.Files.readString(dir.resolve("a.log"));
                        return log.contains("the broker refused the outcome") || log.contains("before its lease ran out");
                    });
                    Job job = client.get(id);
                    assertThat(job.getResult()).isEqualTo("\"from attempt 2\"");
                    assertThat(job.getAttemptsList()).extracting(a -> a.getOutcome().name()).containsExactly(
                            "ATTEMPT_OUTCOME_LEASE_EXPIRED", "ATTEMPT_OUTCOME_SUCCEEDED");
                    oracle.check(List.of(executions), Set.of(), client);
                }
            }
        }
    }

    @Test
    void poisonJobThatKillsItsWorkerEndsFailedWhileOthersFlow() throws Exception {
        try (BrokerFixture broker = BrokerFixture.start(); JobwireClient client = client(broker.broker().port())) {
            Path executions = dir.resolve("executions.log");
            // The poison job kills the worker's JVM (its nearest java ancestor) every time it runs.
            Path script = Oracle.script(dir, "poison.sh", executions, """
                    payload=$(cat)
                    case "$payload" in *poison*)
                      p=$PPID
                      while [ "$p" -gt 1 ]; do
                        if grep -q java /proc/$p/comm 2>/dev/null; then kill -9 $p; exit 1; fi
                        p=$(awk '{print $4}' /proc/$p/stat)
                      done;;
                    esac
                    sleep 0.05
                    echo '"fine"'
                    """);
            Oracle oracle = new Oracle(broker.jdbcUrl(), "fault.poison");
            String port = targets(broker.broker().port());
            List<WorkerProcess> workers = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                workers.add(new WorkerProcess("w" + i, port, "fault.poison", script, 4, dir.resolve("w" + i + ".log")).start());
            }
            Thread supervisor = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    for (WorkerProcess worker : workers) {
                        if (!worker.isAlive()) {
                            try {
                                worker.start();
                            } catch (java.io.IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                        }
                    }
                    Oracle.sleep(200);
                }
            }, "supervisor");
            supervisor.start();
            try {
                oracle.submitUntilAnswered(client, List.of(JobSpec.newBuilder().setType("fault.poison")
                        .setIdempotencyKey("poison").setPayload("{\"poison\": true}").setMaxAttempts(3)
                        .setLeaseDuration(com.google.protobuf.Duration.newBuilder().setSeconds(2)).build()));
                oracle.submit(client, 40, 10, i -> "{\"i\": " + i + "}");
                awaitDrained(oracle);
                String poison = client.get(oracle.acknowledgedIds().stream()
                        .filter(id -> client.get(id).getIdempotencyKey().equals("poison")).findFirst().orElseThrow()).getId();
                Job failed = client.get(poison);
                assertThat(failed.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
                assertThat(failed.getAttempt()).isEqualTo(3);
                oracle.check(List.of(executions), Set.of(poison), client);
            } finally {
                supervisor.interrupt();
                supervisor.join();
                for (WorkerProcess worker : workers) {
                    worker.close();
                }
            }
        }
    }

    @Test
    void reaperRacingACompletionLeavesTheJobSucceeded() throws Exception {
        try (BrokerFixture broker = BrokerFixture.start(c -> c.reaperInterval(Duration.ofHours(1)));
             JobwireClient client = client(broker.broker().port())) {
            Oracle oracle = new Oracle(broker.jdbcUrl(), "fault.reaper_race");
            oracle.submit(client, 1, 1, i -> "{}");
            String id = oracle.acknowledgedIds().iterator().next();
            oracle.watch(client, id);
            io.jobwire.broker.testing.RawWorker worker = broker.connectWorker("racer", 1, "fault.reaper_race");
            io.jobwire.api.v1.LeaseRef lease = worker.take(1).get(0).getLease();
            broker.expireLease(id);
            broker.broker().reaper().setBetweenChoiceAndUpdate(() -> {
                // The reaper has chosen the job. Now the worker's completion lands, as one that began just
                // before the deadline would: its lease is still valid for it, and it commits first.
                broker.sql("UPDATE live_jobs SET lease_expires_at = now() + interval '1 minute' WHERE id = " + id);
                assertThat(worker.complete(lease, "\"won the race\"").getStatus())
                        .isEqualTo(io.jobwire.api.v1.AckStatus.ACK_STATUS_ACCEPTED);
            });
            assertThat(broker.broker().reaper().reapAll()).as("the reaper's UPDATE re-checked and took nothing").isZero();
            Job job = client.get(id);
            assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(job.getResult()).isEqualTo("\"won the race\"");
            awaitDrained(oracle);
            Oracle.sleep(300); // let the watch see the final state
            oracle.check(List.of(), Set.of(), client);
            worker.close();
        }
    }

    @Test
    void threeBrokersOneKilledMidRunLoseNothing() throws Exception {
        String db = TestPostgres.newDatabase();
        int[] ports = {Processes.freePort(), Processes.freePort(), Processes.freePort()};
        Path executions = dir.resolve("executions.log");
        Path script = Oracle.script(dir, "quick.sh", executions, QUICK);
        Oracle oracle = new Oracle(db, "fault.three").withConcurrencyKeys(16, 2).withRateKey("fault-three", 200, 10)
                .withDependencies(75);
        List<BrokerProcess> brokers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            brokers.add(new BrokerProcess(ports[i], db, dir.resolve("broker" + i + ".log")));
        }
        BrokerProcess.startAll(brokers);
        try (WorkerProcess w1 = new WorkerProcess("w1", targets(ports[0], ports[1], ports[2]), "fault.three", script, 8,
                     dir.resolve("w1.log")).start();
             WorkerProcess w2 = new WorkerProcess("w2", targets(ports[1], ports[2], ports[0]), "fault.three", script, 8,
                     dir.resolve("w2.log")).start();
             WorkerProcess w3 = new WorkerProcess("w3", targets(ports[2], ports[0], ports[1]), "fault.three", script, 8,
                     dir.resolve("w3.log")).start();
             JobwireClient viaFirst = client(ports[0], ports[1], ports[2]);
             JobwireClient viaSecond = client(ports[1], ports[2], ports[0])) {
            // a fair type: every submit takes turns under its owner's counter, with keys and dependencies
            viaFirst.registerJobType(JobTypeRegistration.newBuilder().setName("fault.three")
                    .setFairShare(FairShare.getDefaultInstance()).build());
            viaFirst.setRateLimit("fault-three", 200, 10); // half the jobs: both keys
            CompletableFuture<Void> one = CompletableFuture.runAsync(() -> oracle.submit(viaFirst, 0, 300, 75, i -> "{}"));
            CompletableFuture<Void> two = CompletableFuture.runAsync(() -> oracle.submit(viaSecond, 300, 600, 75, i -> "{}"));
            await().atMost(DRAIN).until(() -> oracle.count("SELECT count(*) FROM jobs WHERE state = 'SUCCEEDED'") > 100);
            brokers.get(1).kill();
            one.get();
            two.get();
            awaitDrained(oracle);
            assertThat(oracle.acknowledgedIds()).hasSize(600);
            oracle.check(List.of(executions), Set.of(), viaFirst);
            assertThat(oracle.count("SELECT count(*) FROM fair_counters WHERE type = 'fault.three'")).isPositive();
        } finally {
            for (BrokerProcess broker : brokers) {
                broker.close();
            }
        }
    }

    @Test
    void gracefulShutdownMovesWorkersWithoutLosingLeases() throws Exception {
        String db = TestPostgres.newDatabase();
        int[] ports = {Processes.freePort(), Processes.freePort()};
        Path executions = dir.resolve("executions.log");
        Path script = Oracle.script(dir, "steady.sh", executions, "cat > /dev/null\nsleep 0.3\necho '\"ok\"'\n");
        Oracle oracle = new Oracle(db, "fault.sigterm");
        BrokerProcess first = new BrokerProcess(ports[0], db, dir.resolve("broker0.log"));
        BrokerProcess second = new BrokerProcess(ports[1], db, dir.resolve("broker1.log"));
        BrokerProcess.startAll(List.of(first, second));
        try (WorkerProcess worker = new WorkerProcess("mover", targets(ports[0], ports[1]), "fault.sigterm", script, 8,
                     dir.resolve("w.log")).start();
             JobwireClient client = client(ports[1], ports[0])) {
            oracle.submit(client, 140, 35, i -> "{}");
            await().atMost(DRAIN).until(() -> oracle.count("SELECT count(*) FROM jobs WHERE state = 'RUNNING'") > 0
                    && oracle.count("SELECT count(*) FROM jobs WHERE state = 'SUCCEEDED'") > 20);
            assertThat(first.terminate()).as("a clean exit").isZero();
            awaitDrained(oracle);
            assertThat(oracle.count("SELECT count(*) FROM job_attempt_history a JOIN jobs j ON j.id = a.job_id "
                    + "WHERE j.type = 'fault.sigterm' AND a.outcome = 'lease_expired'"))
                    .as("no lease was lost to the shutdown").isZero();
            oracle.check(List.of(executions), Set.of(), client);
        } finally {
            first.close();
            second.close();
        }
    }
}
