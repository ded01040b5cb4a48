package io.jobwire.broker.auth;

import static io.jobwire.broker.testing.Calls.codeOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.api.v1.WorkerServiceGrpc;
import io.jobwire.broker.Broker;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.client.BrokerConnection;
import io.jobwire.client.JobwireClient;
import io.jobwire.client.JobwireException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Bearer tokens, roles, type limits and owners: nobody gets in or sees what is not theirs. */
class AuthenticationTest {
    private static final String SHOP = TokenStore.newToken();
    private static final String BILLING = TokenStore.newToken();
    private static final String MAILER = TokenStore.newToken();
    private static final String OTHER_WORKER = TokenStore.newToken();
    private static final String OPS = TokenStore.newToken();
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass(c -> c.tokens(String.join("\n",
                    TokenStore.line(SHOP, "shop", List.of(Role.SUBMIT), List.of("email.*", "report")),
                    TokenStore.line(BILLING, "billing", List.of(Role.SUBMIT), List.of()),
                    TokenStore.line(MAILER, "mailer", List.of(Role.WORK), List.of("email.*")),
                    TokenStore.line(OTHER_WORKER, "intruder", List.of(Role.WORK), List.of()),
                    TokenStore.line(OPS, "ops", List.of(Role.ADMIN), List.of()))));

    private static JobwireClient client(String token) {
        JobwireClient.Builder builder = JobwireClient.builder().target("127.0.0.1:" + fixture.broker().port());
        return (token == null ? builder : builder.token(token)).build();
    }

    private static RawWorker worker(String token, String... types) {
        WorkerServiceGrpc.WorkerServiceStub stub = fixture.workerStub();
        if (token != null) {
            stub = stub.withCallCredentials(BrokerConnection.bearer(token));
        }
        return RawWorker.connect(stub, "w-" + types[0], 2, types);
    }

    @Test
    void callsWithoutAValidTokenAreUnauthenticated() {
        try (JobwireClient anonymous = client(null); JobwireClient forged = client("jw_not-a-real-token")) {
            assertThat(codeOf(() -> anonymous.submit("report", "{}"))).isEqualTo(Status.Code.UNAUTHENTICATED);
            assertThat(codeOf(() -> forged.stats())).isEqualTo(Status.Code.UNAUTHENTICATED);
        }
        RawWorker stranger = RawWorker.open(fixture.workerStub());
        stranger.send(WorkerMessage.newBuilder().setHello(RawWorker.hello("stranger", 1, "report")).build());
        assertThat(stranger.awaitClosed().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(fixture.queryLong("SELECT count(*) FROM jobs WHERE owner = 'anonymous'")).isZero();
    }

    @Test
    void healthChecksNeedNoToken() {
        HealthCheckResponse health = HealthGrpc.newBlockingStub(fixture.channel()).check(HealthCheckRequest.getDefaultInstance());
        assertThat(health.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    }

    @Test
    void jobsBelongToTheirSubmitterAndAreInvisibleToOthers() {
        try (JobwireClient shop = client(SHOP); JobwireClient billing = client(BILLING); JobwireClient ops = client(OPS)) {
            String shopJob = shop.submit("email.receipt", "{}").getId();
            assertThat(shop.get(shopJob).getOwner()).isEqualTo("shop");
            String billingJob = billing.submit("invoice", "{}").getId();

            assertThat(codeOf(() -> billing.get(shopJob))).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(codeOf(() -> billing.cancel(shopJob))).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(codeOf(() -> billing.hold(shopJob))).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(codeOf(() -> billing.watch(WatchRequest.newBuilder().addIds(shopJob).build()).hasNext()))
                    .isEqualTo(Status.Code.NOT_FOUND);
            assertThat(billing.list(ListRequest.getDefaultInstance()).getJobsList())
                    .extracting(job -> job.getId()).contains(billingJob).doesNotContain(shopJob);
            assertThat(codeOf(() -> billing.list(ListRequest.newBuilder().setOwner("shop").build())))
                    .isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(billing.stats(StatsRequest.getDefaultInstance()).getQueuesList())
                    .extracting(q -> q.getType()).doesNotContain("email.receipt");
            assertThat(fixture.queryString("SELECT state FROM jobs WHERE id = " + shopJob)).isEqualTo("QUEUED");

            assertThat(ops.get(shopJob).getOwner()).as("an admin sees every owner").isEqualTo("shop");
            assertThat(ops.cancel(shopJob).getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
            assertThat(ops.list(ListRequest.newBuilder().setOwner("billing").build()).getJobsList())
                    .extracting(job -> job.getId()).contains(billingJob);
        }
    }

    @Test
    void tokensAreLimitedToTheirTypesAndTheirOwnName() {
        try (JobwireClient shop = client(SHOP)) {
            assertThat(codeOf(() -> shop.submit("sms.send", "{}"))).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(codeOf(() -> shop.submit(JobSpec.newBuilder().setType("report").setOwner("billing").build())))
                    .isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(shop.submit("report", "{}").getOwner()).isEqualTo("shop");
        }
        try (JobwireClient mailer = client(MAILER)) {
            assertThat(codeOf(() -> mailer.submit("email.x", "{}"))).as("a work token cannot submit")
                    .isEqualTo(Status.Code.PERMISSION_DENIED);
        }
        RawWorker submitOnly = RawWorker.open(fixture.workerStub().withCallCredentials(BrokerConnection.bearer(SHOP)));
        submitOnly.send(WorkerMessage.newBuilder().setHello(RawWorker.hello("nope", 1, "email.x")).build());
        assertThat(submitOnly.awaitClosed().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        RawWorker wrongType = RawWorker.open(fixture.workerStub().withCallCredentials(BrokerConnection.bearer(MAILER)));
        wrongType.send(WorkerMessage.newBuilder().setHello(RawWorker.hello("mailer", 1, "email.send", "sms.send")).build());
        assertThat(wrongType.awaitClosed().getDescription()).contains("sms.send");
    }

    @Test
    void workersActOnlyOnLeasesOfTheirOwnPrincipal() {
        try (JobwireClient shop = client(SHOP)) {
            String id = shop.submit("email.welcome", "{}").getId();
            RawWorker mailer = worker(MAILER, "email.welcome");
            AssignedJob job = mailer.take(1).get(0);
            RawWorker intruder = worker(OTHER_WORKER, "other.type");
            var refused = intruder.complete(job.getLease(), "\"hijacked\"");
            assertThat(refused.getStatus()).isEqualTo(AckStatus.ACK_STATUS_NOT_FOUND);
            assertThat(refused.getMessage()).isEqualTo("job " + id + " does not exist");
            assertThat(intruder.heartbeat(job.getLease()).getStatus()).isEqualTo(AckStatus.ACK_STATUS_NOT_FOUND);
            assertThat(mailer.complete(job.getLease(), "\"sent\"").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            assertThat(shop.get(id).getResult()).isEqualTo("\"sent\"");
            mailer.close();
            intruder.close();
        }
    }

    @Test
    void anOpenBrokerIsRefusedOnAReachableAddress() {
        assertThatThrownBy(() -> Broker.builder(BrokerFixture.testConfig().host("0.0.0.0")
                .databaseUrl(fixture.jdbcUrl()).build()).start())
                .hasMessageContaining("no tokens are configured");
    }

    @Test
    void tokenLinesAreCheckedAndHashed() {
        String token = TokenStore.newToken();
        String line = TokenStore.line(token, "svc", List.of(Role.SUBMIT, Role.WORK), List.of("a.*"));
        assertThat(line).doesNotContain(token).startsWith("sha256:").contains(" svc submit,work a.*");
        TokenStore store = TokenStore.parse("# comment\n" + line, "test");
        Principal principal = store.authenticate(token).orElseThrow();
        assertThat(principal.roles()).containsExactlyInAnyOrder(Role.SUBMIT, Role.WORK);
        assertThat(principal.mayUseType("a.b")).isTrue();
        assertThat(principal.mayUseType("b")).isFalse();
        assertThat(store.authenticate(token + "x")).isEmpty();
        assertThatThrownBy(() -> TokenStore.parse("sha256:zz svc submit", "tokens.txt"))
                .hasMessageContaining("tokens.txt, entry 1");
        assertThatThrownBy(() -> TokenStore.parse(line.replace("submit,work", "root"), "tokens.txt"))
                .hasMessageContaining("unknown role 'root'");
    }

}
