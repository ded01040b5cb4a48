package io.jobwire.broker.dispatch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobState;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.TestPostgres;
import io.jobwire.client.JobwireClient;
import io.jobwire.worker.Worker;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A cancelled running job gives its worker's slot back: the worker (here one slot) takes the next job.
 * The brokers poll once a minute, so the next job can only start through the cancel's own path (the
 * CancelJob, the handler stopping, the worker's new credit), never by a poll.
 */
class CancelFreesSlotTest {
    /** Far below the poll interval: the next job cannot have been found by polling. */
    private static final Duration WELL_BEFORE_A_POLL = Duration.ofSeconds(30);
    private static final AtomicInteger TYPES = new AtomicInteger();

    private static BrokerFixture a;
    private static BrokerFixture b;
    private static JobwireClient viaA;
    private static JobwireClient viaB;

    @BeforeAll
    static void startTwoBrokers() {
        String url = TestPostgres.newDatabase();
        a = BrokerFixture.start(url, config -> config.pollInterval(Duration.ofSeconds(60)));
        b = BrokerFixture.start(url, config -> config.pollInterval(Duration.ofSeconds(60)));
        viaA = JobwireClient.connect("127.0.0.1:" + a.broker().port());
        viaB = JobwireClient.connect("127.0.0.1:" + b.broker().port());
    }

    @AfterAll
    static void stop() {
        viaA.close();
        viaB.close();
        b.close();
        a.close();
    }

    @Test
    void cancellingTheOnlyRunningJobLetsTheWorkerTakeTheNext() throws Exception {
        cancelThenRunNext(viaA);
    }

    @Test
    void cancellingThroughAnotherBrokerLetsTheWorkerTakeTheNext() throws Exception {
        cancelThenRunNext(viaB);
    }

    private void cancelThenRunNext(JobwireClient canceller) throws Exception {
        String type = "cancel.slot." + TYPES.incrementAndGet();
        try (Worker worker = Worker.builder().target("127.0.0.1:" + a.broker().port()).concurrency(1)
                .handle(type, job -> {
                    if (job.payload().contains("block")) {
                        Thread.sleep(Duration.ofMinutes(5).toMillis()); // interrupted when cancelled
                    }
                    return "ran";
                }).start()) {
            String blocking = viaA.submit(type, "{\"block\": true}").getId();
            await().atMost(WELL_BEFORE_A_POLL).until(() -> viaA.get(blocking).getState() == JobState.JOB_STATE_RUNNING);
            String next = viaA.submit(type, "{}").getId();
            assertThat(viaA.get(next).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);

            assertThat(canceller.cancel(blocking, "no longer needed").getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);

            Job done = viaA.awaitFinished(next, Instant.now().plus(WELL_BEFORE_A_POLL), null);
            assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(done.getResult()).isEqualTo("\"ran\"");
            assertThat(viaA.get(blocking).getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
        }
    }
}
