package io.jobwire.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.QuotaFailure;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.ListQuotasRequest;
import io.jobwire.api.v1.Quota;
import io.jobwire.api.v1.QuotaUsage;
import io.jobwire.api.v1.SetQuotaRequest;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.broker.maintenance.Maintenance;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Quotas are counted inside the submit's transaction: exact across brokers, a batch whole or not at all. */
class QuotaTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    private static void setQuota(Quota.Builder quota) {
        fixture.jobs().setQuota(SetQuotaRequest.newBuilder().setQuota(quota).build());
    }

    private static JobSpec job(String owner, String type) {
        return JobSpec.newBuilder().setType(type).setOwner(owner).build();
    }

    private static String submit(BrokerFixture broker, String owner, String type) {
        return broker.jobs().submit(SubmitRequest.newBuilder().setJob(job(owner, type)).build()).getJob().getId();
    }

    private static long jobsOf(String owner) {
        return fixture.queryLong("SELECT count(*) FROM jobs WHERE owner = '" + owner + "'");
    }

    private static StatusRuntimeException refusal(Runnable submit) {
        try {
            submit.run();
        } catch (StatusRuntimeException e) {
            return e;
        }
        throw new AssertionError("the submit was not refused");
    }

    @Test
    void eightSubmittersOverTwoBrokersGetExactlyTheLimit() throws Exception {
        try (BrokerFixture other = BrokerFixture.start(fixture.jdbcUrl(), config -> config)) {
            setQuota(Quota.newBuilder().setOwner("race").setMaxWaiting(100));
            other.broker().maintenance().runNow(Maintenance.QUOTAS); // the other broker learns of it now
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<Future<Integer>> accepted = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                BrokerFixture broker = t % 2 == 0 ? fixture : other;
                accepted.add(pool.submit((Callable<Integer>) () -> {
                    int mine = 0;
                    while (true) {
                        try {
                            submit(broker, "race", "quota.race");
                            mine++;
                        } catch (StatusRuntimeException e) {
                            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                            return mine;
                        }
                    }
                }));
            }
            int total = 0;
            for (Future<Integer> each : accepted) {
                total += each.get();
            }
            pool.shutdown();
            assertThat(total).isEqualTo(100);
            assertThat(jobsOf("race")).isEqualTo(100);
        }
    }

    @Test
    void finishingJobsFreesRoomUnderMaxWaiting() {
        setQuota(Quota.newBuilder().setOwner("finisher").setTypePattern("quota.finish*").setMaxWaiting(2));
        submit(fixture, "finisher", "quota.finish");
        submit(fixture, "finisher", "quota.finish");
        StatusRuntimeException refused = refusal(() -> submit(fixture, "finisher", "quota.finish"));
        assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(refused.getStatus().getDescription()).isEqualTo("quota max-waiting of owner finisher for types "
                + "quota.finish*: at most 2 jobs waiting or running at once; 2 are and this submit has 1; room again "
                + "as they finish");
        QuotaFailure failure = detail(refused, QuotaFailure.class);
        assertThat(failure.getViolations(0).getSubject()).isEqualTo("owner:finisher types:quota.finish*");
        assertThat(failure.getViolations(0).getDescription()).isEqualTo("max-waiting 2: 2 used, 1 asked");
        assertThat(jobsOf("finisher")).isEqualTo(2);
        submit(fixture, "finisher", "other.type"); // not covered by the pattern

        try (RawWorker worker = fixture.connectWorker("quota-finisher", 1, "quota.finish")) {
            AssignedJob running = worker.take(1).get(0);
            worker.complete(running.getLease(), "{}");
        }
        submit(fixture, "finisher", "quota.finish");
        assertThat(jobsOf("finisher")).isEqualTo(4);
    }

    @Test
    void aBatchIsAcceptedWholeOrRefusedWhole() {
        setQuota(Quota.newBuilder().setOwner("batcher").setMaxWaiting(5));
        SubmitBatchRequest.Builder six = SubmitBatchRequest.newBuilder();
        for (int i = 0; i < 6; i++) {
            six.addJobs(job("batcher", "quota.batch"));
        }
        StatusRuntimeException refused = refusal(() -> fixture.jobs().submitBatch(six.build()));
        assertThat(refused.getStatus().getDescription()).contains("this submit alone has 6, more than the limit");
        assertThat(jobsOf("batcher")).isZero();
        SubmitBatchRequest.Builder five = SubmitBatchRequest.newBuilder();
        for (int i = 0; i < 5; i++) {
            five.addJobs(job("batcher", "quota.batch"));
        }
        assertThat(fixture.jobs().submitBatch(five.build()).getResultsCount()).isEqualTo(5);
        assertThat(jobsOf("batcher")).isEqualTo(5);
    }

    @Test
    void aSubmitAnsweredByItsIdempotencyKeyUsesNothing() {
        setQuota(Quota.newBuilder().setOwner("keyed").setMaxWaiting(1));
        JobSpec keyed = job("keyed", "quota.keyed").toBuilder().setIdempotencyKey("order-1").build();
        String first = fixture.jobs().submit(SubmitRequest.newBuilder().setJob(keyed).build()).getJob().getId();
        var again = fixture.jobs().submit(SubmitRequest.newBuilder().setJob(keyed).build());
        assertThat(again.getCreated()).isFalse();
        assertThat(again.getJob().getId()).isEqualTo(first);
        assertThat(refusal(() -> submit(fixture, "keyed", "quota.keyed")).getStatus().getCode())
                .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    }

    @Test
    void windowsRollWithTheDatabaseClock() {
        setQuota(Quota.newBuilder().setOwner("rate").setTypePattern("quota.rate").setPerMinute(3).setPerDay(100));
        for (int i = 0; i < 3; i++) {
            submit(fixture, "rate", "quota.rate");
        }
        StatusRuntimeException refused = refusal(() -> submit(fixture, "rate", "quota.rate"));
        assertThat(refused.getStatus().getDescription()).startsWith("quota per-minute of owner rate for types "
                + "quota.rate: at most 3 jobs submitted per minute; 3 were in the last minute and this submit has 1; "
                + "room again at ");
        long retrySeconds = detail(refused, RetryInfo.class).getRetryDelay().getSeconds();
        assertThat(retrySeconds).isBetween(0L, 60L);
        assertThat(jobsOf("rate")).isEqualTo(3);

        // A minute later by the database's clock: the minute's buckets are older than the window.
        fixture.sql("UPDATE quota_usage SET bucket = bucket - interval '61 seconds' WHERE owner = 'rate'");
        submit(fixture, "rate", "quota.rate");
        QuotaUsage usage = fixture.jobs().listQuotas(ListQuotasRequest.newBuilder().setOwner("rate").build())
                .getQuotas(0);
        assertThat(usage.getSubmittedLastMinute()).isEqualTo(1);
        assertThat(usage.getSubmittedLastDay()).isEqualTo(4);
        assertThat(usage.getWaiting()).isEqualTo(4);
        assertThat(usage.hasMinuteFreesAt()).isTrue();
    }

    private static <T extends com.google.protobuf.Message> T detail(StatusRuntimeException e, Class<T> type) {
        com.google.rpc.Status status = StatusProto.fromThrowable(e);
        assertThat(status).as("google.rpc.Status details").isNotNull();
        return status.getDetailsList().stream().filter(any -> any.is(type)).findFirst().map(any -> {
            try {
                return any.unpack(type);
            } catch (InvalidProtocolBufferException ex) {
                throw new AssertionError(ex);
            }
        }).orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " in " + status));
    }
}
