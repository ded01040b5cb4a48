package io.jobwire.broker.api;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.Status;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.SubmitResponse;
import io.jobwire.broker.testing.BrokerFixture;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/**
 * When the database falls behind, the submits that may wait for it are bounded (64 jobs of the largest
 * payload allowed): more are refused at once with UNAVAILABLE, and change nothing, rather than held in the
 * broker's heap; those taken all commit once the database moves again.
 */
class BackpressureTest {
    private static final int PAYLOAD_LIMIT = 64 * 1024;

    @Test
    void submitsBeyondWhatMayWaitForTheDatabaseAreRefusedAndTheRestCommit() throws Exception {
        try (BrokerFixture fixture = BrokerFixture.start(c -> c.maxPayloadBytes(PAYLOAD_LIMIT));
             Connection blocker = DriverManager.getConnection(fixture.jdbcUrl());
             Statement statement = blocker.createStatement()) {
            // The database falls behind: nothing can be inserted until this transaction ends.
            blocker.setAutoCommit(false);
            statement.execute("LOCK TABLE live_jobs IN EXCLUSIVE MODE");

            String payload = "{\"pad\": \"" + "x".repeat(PAYLOAD_LIMIT - 100) + "\"}";
            JobServiceGrpc.JobServiceFutureStub stub = JobServiceGrpc.newFutureStub(fixture.channel());
            List<ListenableFuture<SubmitResponse>> calls = new ArrayList<>();
            // One submit is being written, stuck on the lock; then 200 near-limit jobs, three times what may wait.
            calls.add(stub.submit(SubmitRequest.newBuilder()
                    .setJob(JobSpec.newBuilder().setType("backpressure.job").setPayload(payload)).build()));
            await().atMost(scaled(Duration.ofSeconds(30))).until(() -> fixture.queryString("SELECT count(*) FROM "
                    + "pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").equals("1"));
            int sent = 201;
            for (int i = 1; i < sent; i++) {
                calls.add(stub.submit(SubmitRequest.newBuilder()
                        .setJob(JobSpec.newBuilder().setType("backpressure.job").setPayload(payload)).build()));
            }
            // Refusals come back while the database is still stuck; nothing is answered OK meanwhile.
            await().atMost(scaled(Duration.ofSeconds(30)))
                    .until(() -> calls.stream().filter(ListenableFuture::isDone).count() >= sent - 100);
            for (ListenableFuture<SubmitResponse> call : calls) {
                if (call.isDone()) {
                    assertThat(statusOf(call).getCode()).as("a call answered while the database is stuck")
                            .isEqualTo(Status.Code.UNAVAILABLE);
                    assertThat(statusOf(call).getDescription()).contains("behind the database").contains("retry");
                }
            }

            blocker.commit();
            long accepted = 0;
            long refused = 0;
            for (ListenableFuture<SubmitResponse> call : calls) {
                Status status = statusOf(call);
                if (status.isOk()) {
                    accepted++;
                } else {
                    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
                    refused++;
                }
            }
            assertThat(refused).as("submits refused").isPositive();
            // What waited is at most the bound (64 MiB per MiB of payload limit: 63 of these jobs with their
            // overhead), plus the one being written.
            assertThat(accepted).as("submits taken").isBetween(2L, 65L);
            try (ResultSet rs = statement.executeQuery("SELECT count(*) FROM jobs WHERE type = 'backpressure.job'")) {
                rs.next();
                assertThat(rs.getLong(1)).as("every job answered OK is stored, and no refused one").isEqualTo(accepted);
            }
            blocker.commit();
        }
    }

    private static Status statusOf(ListenableFuture<SubmitResponse> call) throws InterruptedException {
        try {
            call.get();
            return Status.OK;
        } catch (ExecutionException e) {
            return Status.fromThrowable(e.getCause());
        }
    }
}
