package io.jobwire.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.api.v1.AckAction;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.api.v1.WorkerMessage.KindCase;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A worker's side of a job's life against a {@link ScriptedBroker}, on a clock the test moves: heartbeats,
 * the local lease cut-off and what is sent again after the broker could not take it. The same worker
 * against a real broker is tested in the broker module ({@code io.jobwire.client.WorkerTest}).
 */
class WorkerLifeTest {
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    private final AtomicLong clock = new AtomicLong();
    private ScriptedBroker broker;
    private Worker worker;

    @BeforeEach
    void startBroker() throws Exception {
        broker = new ScriptedBroker();
    }

    @AfterEach
    void stop() throws Exception {
        if (worker != null) {
            worker.shutdown(java.time.Duration.ZERO);
        }
        broker.close();
    }

    private void start(int concurrency, String type, JobHandler handler) throws InterruptedException {
        worker = Worker.builder().target(broker.target()).concurrency(concurrency).nanoTime(clock::get)
                .stopTimeout(java.time.Duration.ofSeconds(1)).handle(type, handler).start();
        broker.welcome();
    }

    @Test
    void aLeaseTheBrokerNeverConfirmsRunsOutByTheWorkersClockAndTheResultIsNotSent() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        AtomicBoolean toldToStop = new AtomicBoolean();
        start(1, "life.cutoff", job -> {
            started.countDown();
            try {
                Thread.sleep(TimeUnit.MINUTES.toMillis(5));
            } catch (InterruptedException e) {
                toldToStop.set(job.isCancelled());
            }
            return "\"from a job whose lease is gone\"";
        });
        LeaseRef lease = broker.assign("1", "life.cutoff", 3);
        assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();

        clock.set(SECOND + SECOND / 10); // a third of the lease: the heartbeat is due
        assertThat(broker.next(KindCase.HEARTBEAT).getHeartbeat().getLeasesList()).containsExactly(lease);
        // ... and never answered: at three seconds the lease is gone as far as the worker knows.
        clock.set(3 * SECOND + SECOND / 10);
        WorkerMessage after = broker.nextBesidesHeartbeats();
        assertThat(after.getKindCase()).as("the slot is freed, and nothing else is said about the job: " + after)
                .isEqualTo(KindCase.CREDIT);
        assertThat(toldToStop).isTrue();
    }

    @Test
    void aConfirmedHeartbeatMovesTheLocalDeadline() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch firstStarted = new CountDownLatch(1);
        CountDownLatch secondStarted = new CountDownLatch(1);
        AtomicBoolean firstStopped = new AtomicBoolean();
        start(2, "life.beats", job -> {
            if (job.id().equals("2")) {
                secondStarted.countDown();
                return null;
            }
            firstStarted.countDown();
            if (!release.await(5, TimeUnit.MINUTES)) {
                return null;
            }
            firstStopped.set(job.isCancelled());
            return "\"kept alive\"";
        });
        LeaseRef lease = broker.assign("1", "life.beats", 3);
        assertThat(firstStarted.await(30, TimeUnit.SECONDS)).isTrue(); // taken at the clock's zero
        clock.set(SECOND + SECOND / 10);
        broker.next(KindCase.HEARTBEAT);
        broker.ack(lease, AckAction.ACK_ACTION_HEARTBEAT, AckStatus.ACK_STATUS_ACCEPTED);
        // The worker reads its stream in order: once the second job runs, the Ack above has been taken.
        broker.assign("2", "life.beats", 3);
        assertThat(secondStarted.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(broker.nextBesidesHeartbeats().getComplete().getLease().getJobId()).isEqualTo("2");

        clock.set(3 * SECOND + SECOND / 2); // past the first deadline, before the one the Ack gave
        assertThat(broker.next(KindCase.HEARTBEAT).getHeartbeat().getLeasesList())
                .as("still heartbeating job 1, not stopping it").contains(lease);
        release.countDown();
        WorkerMessage outcome = broker.nextBesidesHeartbeats();
        if (outcome.getKindCase() == KindCase.OUTCOMES) {
            assertThat(outcome.getOutcomes().getCompleteList()).anySatisfy(complete ->
                    assertThat(complete.getResult()).isEqualTo("\"kept alive\""));
        } else {
            assertThat(outcome.getComplete().getResult()).isEqualTo("\"kept alive\"");
        }
        assertThat(firstStopped).isFalse();
    }

    @Test
    void progressTheBrokerCouldNotStoreIsSentAgainWithTheNextTick() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        start(1, "life.progress", job -> {
            job.progress(40, "copying", Map.of("copied", 4));
            release.await(5, TimeUnit.MINUTES);
            return null;
        });
        clock.set(SECOND); // the assignment's own time, so the report is not held back by the pacing
        LeaseRef lease = broker.assign("1", "life.progress", 30);
        clock.set(2 * SECOND);
        WorkerMessage first = broker.next(KindCase.PROGRESS);
        assertThat(first.getProgress().getDetails()).isEqualTo("{\"copied\":4}");
        broker.ack(lease, AckAction.ACK_ACTION_PROGRESS, AckStatus.ACK_STATUS_UNAVAILABLE);
        WorkerMessage again = broker.nextBesidesHeartbeats();
        assertThat(again).isEqualTo(first);
        release.countDown();
    }

    @Test
    void progressTheBrokerCouldNotStoreGoesAheadOfTheOutcomeSentAgain() throws Exception {
        start(1, "life.last", job -> {
            job.progress(100, "done", Map.of("rows", 7));
            return "\"ok\"";
        });
        clock.set(SECOND);
        LeaseRef lease = broker.assign("1", "life.last", 30);
        clock.set(2 * SECOND);
        WorkerMessage progress = broker.nextBesidesHeartbeats();
        WorkerMessage complete = broker.nextBesidesHeartbeats();
        assertThat(progress.getKindCase()).isEqualTo(KindCase.PROGRESS);
        assertThat(complete.getKindCase()).isEqualTo(KindCase.COMPLETE);
        // The database was down for both: the worker sends the outcome again, its last progress first.
        broker.ack(lease, AckAction.ACK_ACTION_PROGRESS, AckStatus.ACK_STATUS_UNAVAILABLE);
        broker.ack(lease, AckAction.ACK_ACTION_COMPLETE, AckStatus.ACK_STATUS_UNAVAILABLE);
        assertThat(broker.nextBesidesHeartbeats()).isEqualTo(progress);
        assertThat(broker.nextBesidesHeartbeats()).isEqualTo(complete);
        broker.ack(lease, AckAction.ACK_ACTION_COMPLETE, AckStatus.ACK_STATUS_ACCEPTED);
        assertThat(broker.nextBesidesHeartbeats().getKindCase()).as("the slot is free once the outcome is taken")
                .isEqualTo(KindCase.CREDIT);
    }

    @Test
    void aCancelledJobFreesItsSlotWhenItsHandlerReturnsAndSaysNothingMore() throws Exception {
        start(1, "life.cancel", job -> {
            try {
                Thread.sleep(TimeUnit.MINUTES.toMillis(5));
            } catch (InterruptedException e) {
                return "\"too late\"";
            }
            return null;
        });
        broker.assign("1", "life.cancel", 30);
        broker.send(io.jobwire.api.v1.BrokerMessage.newBuilder().setCancelJob(io.jobwire.api.v1.CancelJob.newBuilder()
                .setJobId("1").setAttempt(1).setReason("by the test")).build());
        assertThat(broker.nextBesidesHeartbeats().getKindCase()).isEqualTo(KindCase.CREDIT);
    }
}
