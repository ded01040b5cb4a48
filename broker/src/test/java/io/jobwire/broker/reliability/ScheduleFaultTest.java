package io.jobwire.broker.reliability;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.CreateScheduleRequest;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.broker.reliability.Processes.BrokerProcess;
import io.jobwire.broker.testing.TestPostgres;
import io.jobwire.client.JobwireClient;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Three broker processes fire a schedule each second; one is SIGKILLed on the way: no fire doubled or lost. */
class ScheduleFaultTest {
    @TempDir
    Path dir;

    @Test
    void threeBrokersOneKilledNeitherDoubleNorLoseAFire() throws Exception {
        String db = TestPostgres.newDatabase();
        List<BrokerProcess> brokers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            brokers.add(new BrokerProcess(Processes.freePort(), db, dir.resolve("broker-" + i + ".log")));
        }
        BrokerProcess.startAll(brokers);
        try (JobwireClient client = JobwireClient.connect("127.0.0.1:" + brokers.get(0).port)) {
            client.createSchedule(CreateScheduleRequest.newBuilder().setName("each-second")
                    .setEvery(com.google.protobuf.Duration.newBuilder().setSeconds(1))
                    .setJob(JobSpec.newBuilder().setType("sched.fault")).build());
            await().atMost(scaled(Duration.ofSeconds(60))).until(() -> keys(client).size() >= 4);
            brokers.get(1).kill(); // wherever it was: maybe between a fire's job and its schedule's row
            int atKill = keys(client).size();
            await().atMost(scaled(Duration.ofSeconds(60))).until(() -> keys(client).size() >= atKill + 6);
            client.deleteSchedule("each-second");

            List<Instant> fires = new Oracle(db, "sched.fault").checkScheduleFires("each-second", Duration.ofSeconds(1));
            assertThat(fires).hasSizeGreaterThanOrEqualTo(atKill + 6);
        } finally {
            for (BrokerProcess broker : brokers) {
                broker.close();
            }
        }
    }

    private static List<String> keys(JobwireClient client) {
        return client.list(ListRequest.newBuilder().setType("sched.fault").setPageSize(1000).build()).getJobsList().stream()
                .map(job -> job.getIdempotencyKey()).toList();
    }
}
