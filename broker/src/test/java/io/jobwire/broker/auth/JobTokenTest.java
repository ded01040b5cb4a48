package io.jobwire.broker.auth;

import static io.jobwire.broker.testing.Calls.codeOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.util.Durations;
import io.grpc.Status;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.JobTypeRegistration;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.Quota;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.client.BrokerConnection;
import io.jobwire.client.JobwireClient;
import io.jobwire.client.JobwireException;
import io.jobwire.worker.JobType;
import io.jobwire.worker.Worker;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Job tokens: each assignment's token acts as the job's owner while the attempt runs, within the owner's
 * rights and the types its registration lists in {@code uses}; jobs submitted with it record their
 * parent; it stops working on every broker once the attempt ends.
 */
class JobTokenTest {
    private static final String SHOP = TokenStore.newToken();
    private static final String BANK = TokenStore.newToken();
    private static final String RUNNER = TokenStore.newToken();
    private static final String OPS = TokenStore.newToken();
    private static final String TOKENS = String.join("\n",
            TokenStore.line(SHOP, "shop", List.of(Role.SUBMIT), List.of()),
            TokenStore.line(BANK, "bank", List.of(Role.SUBMIT), List.of()),
            TokenStore.line(RUNNER, "runner", List.of(Role.WORK), List.of()),
            TokenStore.line(OPS, "ops", List.of(Role.ADMIN), List.of()));
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass(c -> c.tokens(TOKENS));
    /** A second broker on the same database: a token is checked by whichever broker receives it. */
    private static BrokerFixture other;

    @BeforeAll
    static void registerTypes() {
        other = BrokerFixture.start(fixture.jdbcUrl(), c -> c.tokens(TOKENS));
        try (JobwireClient ops = client(OPS)) {
            ops.registerJobType(JobTypeRegistration.newBuilder().setName("order.place")
                    .setDescription("places an order, then mails and invoices").addUses("email.*").addUses("invoice.make")
                    .build());
        }
        // A registration reaches the other broker within a second (its registry is reread each second).
        try (JobwireClient opsThere = client(other, OPS)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> opsThere.jobType("order.place").hasRegistration());
        }
    }

    @AfterAll
    static void stopOther() {
        other.close();
    }

    private static JobwireClient client(String token) {
        return client(fixture, token);
    }

    private static JobwireClient client(BrokerFixture broker, String token) {
        return JobwireClient.builder().target("127.0.0.1:" + broker.broker().port()).token(token).build();
    }

    private static RawWorker runner(String workerId, String type) {
        return RawWorker.connect(fixture.workerStub().withCallCredentials(BrokerConnection.bearer(RUNNER)), workerId, 4, type);
    }

    @Test
    void childrenSubmittedWithTheTokenBelongToTheOwnerAndRecordTheirParent() {
        try (JobwireClient shop = client(SHOP);
             RawWorker runner = runner("runner-children", "order.place")) {
            Job order = shop.submit("order.place", "{\"order\": 7}");
            AssignedJob assigned = runner.take(1).get(0);
            assertThat(assigned.getJobToken()).startsWith(JobTokens.PREFIX).doesNotContain(assigned.getLease().getLeaseToken());

            try (JobwireClient asJob = client(assigned.getJobToken()); JobwireClient asJobElsewhere = client(other, assigned.getJobToken())) {
                Job mail = asJob.submit("email.send", "{\"to\": \"ada@example.com\"}");
                Job invoice = asJobElsewhere.submit("invoice.make", "{\"order\": 7}");
                for (Job child : List.of(mail, invoice)) {
                    assertThat(child.getOwner()).isEqualTo("shop");
                    assertThat(child.getParentId()).isEqualTo(order.getId());
                }
                // The owner sees them as its own, with their parent; List finds a job's children.
                assertThat(shop.get(mail.getId()).getParentId()).isEqualTo(order.getId());
                assertThat(shop.list(ListRequest.newBuilder().setParentId(order.getId()).build()).getJobsList())
                        .extracting(Job::getId).containsExactlyInAnyOrder(mail.getId(), invoice.getId());
                // The token reads the owner's jobs, its own job included.
                assertThat(asJob.get(order.getId()).getState()).isEqualTo(JobState.JOB_STATE_RUNNING);
                // Only the types the registration lists in `uses`, and only for its owner.
                assertThatThrownBy(() -> asJob.submit("sms.send", "{}"))
                        .isInstanceOfSatisfying(JobwireException.class, e -> {
                            assertThat(e.code()).isEqualTo(Status.Code.PERMISSION_DENIED);
                            assertThat(e.getMessage()).contains("uses");
                        });
                assertThat(codeOf(() -> asJob.submit(JobSpec.newBuilder().setType("email.send").setOwner("bank").build())))
                        .isEqualTo(Status.Code.PERMISSION_DENIED);
                // What the token was refused wrote nothing.
                assertThat(shop.list(ListRequest.newBuilder().setParentId(order.getId()).build()).getJobsCount()).isEqualTo(2);
            }
            assertThat(runner.complete(assigned.getLease(), "{}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        }
    }

    @Test
    void theTokenCannotReachAnotherOwnersJobsNorWorkNorAdminister() {
        try (JobwireClient shop = client(SHOP);
             JobwireClient bank = client(BANK);
             RawWorker runner = runner("runner-isolation", "order.place")) {
            Job banks = bank.submit("email.send", "{\"secret\": true}");
            shop.submit("order.place", "{}");
            AssignedJob assigned = runner.take(1).get(0);
            try (JobwireClient asJob = client(assigned.getJobToken())) {
                Status.Code unknown = codeOf(() -> asJob.get("999999999"));
                assertThat(unknown).isEqualTo(Status.Code.NOT_FOUND);
                assertThat(codeOf(() -> asJob.get(banks.getId()))).isEqualTo(unknown);
                assertThat(codeOf(() -> asJob.cancel(banks.getId()))).isEqualTo(unknown);
                assertThat(asJob.list(ListRequest.newBuilder().setPageSize(1000).build()).getJobsList())
                        .extracting(Job::getOwner).containsOnly("shop");
                assertThat(codeOf(() -> asJob.setQuota(Quota.newBuilder().setOwner("shop").setMaxWaiting(1).build())))
                        .isEqualTo(Status.Code.PERMISSION_DENIED);
                try (RawWorker asWorker = RawWorker.open(fixture.workerStub()
                        .withCallCredentials(BrokerConnection.bearer(assigned.getJobToken())))) {
                    asWorker.send(io.jobwire.api.v1.WorkerMessage.newBuilder()
                            .setHello(RawWorker.hello("token-worker", 1, "order.place")).build());
                    assertThat(asWorker.awaitClosed().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                }
            }
            assertThat(bank.get(banks.getId()).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
            runner.complete(assigned.getLease(), "{}");
        }
    }

    @Test
    void theTokenStopsWorkingOnEveryBrokerWhenTheAttemptEnds() {
        try (JobwireClient shop = client(SHOP);
             RawWorker runner = runner("runner-ends", "order.place")) {
            // finished
            shop.submit("order.place", "{\"end\": \"complete\"}");
            AssignedJob completed = runner.take(1).get(0);
            assertUsable(completed.getJobToken());
            runner.complete(completed.getLease(), "{}");
            assertRefusedEverywhere(completed.getJobToken());

            // cancelled
            Job toCancel = shop.submit("order.place", "{\"end\": \"cancel\"}");
            AssignedJob cancelled = runner.take(1).get(0);
            assertUsable(cancelled.getJobToken());
            shop.cancel(toCancel.getId());
            assertRefusedEverywhere(cancelled.getJobToken());

            // failed and retried: the next attempt has a token of its own, the old one is dead
            shop.submit(JobSpec.newBuilder().setType("order.place").setPayload("{\"end\": \"retry\"}")
                    .setRetryPolicy(io.jobwire.api.v1.RetryPolicy.newBuilder().setInitialDelay(Durations.fromMillis(0))).build());
            AssignedJob first = runner.take(1).get(0);
            runner.fail(first.getLease(), "try again", true);
            AssignedJob second = runner.take(1).get(0);
            assertThat(second.getLease().getAttempt()).isEqualTo(2);
            assertRefusedEverywhere(first.getJobToken());
            assertUsable(second.getJobToken());
            runner.release(second.getLease());
            assertRefusedEverywhere(second.getJobToken());

            // lease lost: refused as soon as the lease has run out, before the reaper takes the job back
            // (the released job is queued again, and is the one the runner gets next)
            AssignedJob held = runner.take(1).get(0);
            assertThat(held.getLease().getAttempt()).isEqualTo(3);
            assertUsable(held.getJobToken());
            fixture.sql("UPDATE live_jobs SET lease_expires_at = now() - interval '1 second' WHERE id = "
                    + held.getLease().getJobId());
            assertRefusedEverywhere(held.getJobToken());
        }
    }

    @Test
    void forgedAndMalformedTokensAreRefused() {
        try (JobwireClient shop = client(SHOP);
             RawWorker runner = runner("runner-forged", "order.place")) {
            shop.submit("order.place", "{}");
            AssignedJob assigned = runner.take(1).get(0);
            String token = assigned.getJobToken();
            String mac = token.substring(token.lastIndexOf('_') + 1);
            String prefix = token.substring(0, token.lastIndexOf('_') + 1);
            String flipped = prefix + (mac.charAt(0) == 'A' ? 'B' : 'A') + mac.substring(1);
            String otherAttempt = token.replace("_" + assigned.getLease().getAttempt() + "_", "_9_");
            for (String forged : List.of(flipped, otherAttempt, "jwj_1_1_short", "jwj_", prefix)) {
                try (JobwireClient asForged = client(forged)) {
                    assertThat(codeOf(() -> asForged.submit("email.send", "{}"))).as(forged).isEqualTo(Status.Code.UNAUTHENTICATED);
                }
            }
            assertUsable(token);
            runner.complete(assigned.getLease(), "{}");
        }
    }

    @Test
    void aTypeWithoutUsesGivesATokenThatReadsButSubmitsNothing() {
        try (JobwireClient shop = client(SHOP);
             RawWorker runner = runner("runner-nouses", "report.build")) {
            Job report = shop.submit("report.build", "{}");
            AssignedJob assigned = runner.take(1).get(0);
            try (JobwireClient asJob = client(assigned.getJobToken())) {
                assertThat(asJob.get(report.getId()).getOwner()).isEqualTo("shop");
                assertThat(codeOf(() -> asJob.submit("email.send", "{}"))).isEqualTo(Status.Code.PERMISSION_DENIED);
            }
            runner.complete(assigned.getLease(), "{}");
        }
    }

    @Test
    void theJavaSdkHandsTheHandlerAClientActingWithItsToken() {
        AtomicReference<String> seenToken = new AtomicReference<>();
        try (JobwireClient shop = client(SHOP);
             Worker worker = Worker.builder().target("127.0.0.1:" + fixture.broker().port()).token(RUNNER)
                     .concurrency(1).handle(JobType.of("order.place"), job -> {
                         seenToken.set(job.jobToken());
                         Job child = job.client().submit("email.send", "{\"for\": " + job.id() + "}");
                         return Map.of("child", child.getId(), "childOwner", child.getOwner(),
                                 "parentSeen", job.client().get(job.id()).getState().name());
                     }).start()) {
            Job done = shop.submitAndWait(JobSpec.newBuilder().setType("order.place").setPayload("{\"sdk\": true}").build(),
                    Duration.ofSeconds(30), null);
            assertThat(done.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(done.getResult()).contains("\"childOwner\": \"shop\"").contains("\"parentSeen\": \"JOB_STATE_RUNNING\"");
            String childId = done.getResult().replaceAll(".*\"child\": \"([0-9]+)\".*", "$1");
            assertThat(shop.get(childId).getParentId()).isEqualTo(done.getId());
            assertRefusedEverywhere(seenToken.get());
        }
    }

    private static void assertUsable(String token) {
        for (BrokerFixture broker : List.of(fixture, other)) {
            try (JobwireClient asJob = client(broker, token)) {
                assertThat(asJob.list(ListRequest.newBuilder().setPageSize(1).build()).getJobsList())
                        .extracting(Job::getOwner).containsOnly("shop");
            }
        }
    }

    /** Refused at once on both brokers: no cache outlives the attempt. */
    private static void assertRefusedEverywhere(String token) {
        for (BrokerFixture broker : List.of(fixture, other)) {
            try (JobwireClient asJob = client(broker, token)) {
                assertThat(codeOf(() -> asJob.list(ListRequest.newBuilder().setPageSize(1).build())))
                        .isEqualTo(Status.Code.UNAUTHENTICATED);
                assertThat(codeOf(() -> asJob.submit("email.send", "{}"))).isEqualTo(Status.Code.UNAUTHENTICATED);
            }
        }
    }
}
