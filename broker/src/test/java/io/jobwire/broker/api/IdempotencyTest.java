package io.jobwire.broker.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.SubmitBatchResponse;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.SubmitResponse;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** An idempotency key makes creation exactly-once per owner. */
class IdempotencyTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    private static SubmitResponse submit(String key, String owner) {
        return fixture.jobs().submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder()
                .setType("idem.job").setIdempotencyKey(key).setOwner(owner)).build());
    }

    private static long rowsWithKey(String key) {
        return fixture.queryLong("SELECT count(*) FROM jobs WHERE idempotency_key = '" + key + "'");
    }

    @Test
    void sameKeyAndOwnerReturnsTheSameJob() {
        SubmitResponse first = submit("order-1", "shop");
        SubmitResponse second = submit("order-1", "shop");
        assertThat(first.getCreated()).isTrue();
        assertThat(second.getCreated()).isFalse();
        assertThat(second.getJob().getId()).isEqualTo(first.getJob().getId());
        assertThat(rowsWithKey("order-1")).isEqualTo(1);
    }

    @Test
    void sameKeyForAnotherOwnerIsAnotherJob() {
        SubmitResponse shop = submit("order-2", "shop");
        SubmitResponse billing = submit("order-2", "billing");
        assertThat(billing.getCreated()).isTrue();
        assertThat(billing.getJob().getId()).isNotEqualTo(shop.getJob().getId());
        assertThat(rowsWithKey("order-2")).isEqualTo(2);
    }

    @Test
    void duplicateKeysWithinOneBatchMakeOneJob() {
        JobSpec spec = JobSpec.newBuilder().setType("idem.job").setIdempotencyKey("order-3").build();
        SubmitBatchResponse batch = fixture.jobs().submitBatch(SubmitBatchRequest.newBuilder()
                .addJobs(spec).addJobs(JobSpec.newBuilder().setType("idem.job")).addJobs(spec).build());
        assertThat(batch.getResults(0).getCreated()).isTrue();
        assertThat(batch.getResults(1).getCreated()).isTrue();
        assertThat(batch.getResults(2).getCreated()).isFalse();
        assertThat(batch.getResults(2).getJob().getId()).isEqualTo(batch.getResults(0).getJob().getId());
        assertThat(rowsWithKey("order-3")).isEqualTo(1);
    }

    @Test
    void keyOfAFinishedJobStillReturnsIt() {
        SubmitResponse first = fixture.jobs().submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder()
                .setType("idem.finish").setIdempotencyKey("order-4")).build());
        RawWorker worker = fixture.connectWorker("idem", 1, "idem.finish");
        worker.complete(worker.take(1).get(0).getLease(), "\"done\"");
        SubmitResponse again = fixture.jobs().submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder()
                .setType("idem.finish").setIdempotencyKey("order-4")).build());
        assertThat(again.getCreated()).isFalse();
        assertThat(again.getJob().getId()).isEqualTo(first.getJob().getId());
        assertThat(again.getJob().getResult()).isEqualTo("\"done\"");
    }

    @Test
    void concurrentSubmitsWithOneKeyCreateOneJob() throws Exception {
        int callers = 16;
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<SubmitResponse>> calls = new ArrayList<>();
        for (int i = 0; i < callers; i++) {
            calls.add(CompletableFuture.supplyAsync(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return submit("order-5", "shop");
            }));
        }
        go.countDown();
        Set<String> ids = new HashSet<>();
        int created = 0;
        for (CompletableFuture<SubmitResponse> call : calls) {
            SubmitResponse response = call.get();
            ids.add(response.getJob().getId());
            created += response.getCreated() ? 1 : 0;
        }
        assertThat(ids).hasSize(1);
        assertThat(created).isEqualTo(1);
        assertThat(rowsWithKey("order-5")).isEqualTo(1);
    }
}
