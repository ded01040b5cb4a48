package io.jobwire.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.jobwire.api.v1.Ack;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobTypeInfo;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.api.v1.WorkerInfo;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.api.v1.WorkerServiceGrpc;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.client.BrokerConnection;
import io.jobwire.client.JobwireClient;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A worker learns nothing about jobs that are not leased to its own principal: any write on one is
 * answered exactly like a write on an id that does not exist, whatever the job's state, attempt or
 * token. Stats and ListJobTypes show a non-admin only its own workers and the types it may use, and a
 * worker id belongs to the principal that first used it.
 */
class PrincipalIsolationTest {
    private static final String SHOP = TokenStore.newToken();
    private static final String MAILER = TokenStore.newToken();
    private static final String PRINTER = TokenStore.newToken();
    private static final String OPS = TokenStore.newToken();
    private static final String UNKNOWN_ID = "999999999";
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass(c -> c.tokens(String.join("\n",
                TokenStore.line(SHOP, "shop", List.of(Role.SUBMIT), List.of()),
                TokenStore.line(MAILER, "mailer", List.of(Role.WORK), List.of("email.*")),
                TokenStore.line(PRINTER, "printer", List.of(Role.WORK), List.of("print.*")),
                TokenStore.line(OPS, "ops", List.of(Role.ADMIN), List.of()))));

    private static JobwireClient client(String token) {
        return JobwireClient.builder().target("127.0.0.1:" + fixture.broker().port()).token(token).build();
    }

    private static WorkerServiceGrpc.WorkerServiceStub stub(String token) {
        return fixture.workerStub().withCallCredentials(BrokerConnection.bearer(token));
    }

    private static RawWorker worker(String token, String workerId, String type) {
        return RawWorker.connect(stub(token), workerId, 4, type);
    }

    /** The same lease on another job id. */
    private static LeaseRef onJob(LeaseRef lease, String jobId) {
        return lease.toBuilder().setJobId(jobId).build();
    }

    /** Every kind of write, through {@code worker}; each answered by an Ack. */
    private static List<BiFunction<RawWorker, LeaseRef, Ack>> writes() {
        return List.of(
                (worker, lease) -> worker.heartbeat(lease),
                (worker, lease) -> worker.progress(lease, 10, "probing", ""),
                (worker, lease) -> worker.complete(lease, "\"hijacked\""),
                (worker, lease) -> worker.fail(lease, "hijacked", false),
                (worker, lease) -> worker.release(lease));
    }

    /** The Ack with the job id written out of it, so answers for two ids can be compared. */
    private static Ack anonymous(Ack ack, String jobId) {
        return ack.toBuilder().setJobId("ID").setMessage(ack.getMessage().replace(jobId, "ID")).build();
    }

    private static void assertAnsweredLikeAnUnknownId(RawWorker intruder, LeaseRef lease) {
        for (BiFunction<RawWorker, LeaseRef, Ack> write : writes()) {
            Ack unknown = write.apply(intruder, onJob(lease, UNKNOWN_ID));
            assertThat(unknown.getStatus()).isEqualTo(AckStatus.ACK_STATUS_NOT_FOUND);
            Ack answer = write.apply(intruder, lease);
            assertThat(anonymous(answer, lease.getJobId())).isEqualTo(anonymous(unknown, UNKNOWN_ID));
        }
    }

    @Test
    void writesOnAnotherPrincipalsJobsAreAnsweredLikeAnUnknownIdInEveryState() {
        try (JobwireClient shop = client(SHOP);
             RawWorker mailer = worker(MAILER, "mailer-1", "email.send");
             RawWorker intruder = worker(PRINTER, "printer-1", "print.page")) {
            List<LeaseRef> probes = new ArrayList<>();
            // queued, never leased
            String queued = shop.submit(JobSpec.newBuilder().setType("email.send").setRunAt(
                    com.google.protobuf.Timestamp.newBuilder().setSeconds(4_000_000_000L)).build()).getJob().getId();
            probes.add(LeaseRef.newBuilder().setJobId(queued).setAttempt(1).setLeaseToken(UUID.randomUUID().toString()).build());
            // running under the mailer's lease: the real lease, a wrong token, a future attempt
            shop.submit("email.send", "{\"n\": 1}");
            AssignedJob running = mailer.take(1).get(0);
            probes.add(running.getLease());
            probes.add(running.getLease().toBuilder().setLeaseToken(UUID.randomUUID().toString()).build());
            probes.add(running.getLease().toBuilder().setAttempt(7).build());
            // succeeded, failed and cancelled after the mailer held them
            shop.submit("email.send", "{\"n\": 2}");
            AssignedJob succeeded = mailer.take(1).get(0);
            assertThat(mailer.complete(succeeded.getLease(), "{}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            probes.add(succeeded.getLease());
            shop.submit(JobSpec.newBuilder().setType("email.send").setMaxAttempts(1).build());
            AssignedJob failed = mailer.take(1).get(0);
            assertThat(mailer.fail(failed.getLease(), "bounced", true).getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            probes.add(failed.getLease());
            shop.submit("email.send", "{\"n\": 3}");
            AssignedJob cancelled = mailer.take(1).get(0);
            shop.cancel(cancelled.getLease().getJobId());
            probes.add(cancelled.getLease());

            for (LeaseRef probe : probes) {
                assertAnsweredLikeAnUnknownId(intruder, probe);
            }

            // The principal that held the lease still hears why: it is its own job.
            assertThat(mailer.heartbeat(cancelled.getLease()).getStatus()).isEqualTo(AckStatus.ACK_STATUS_CANCELLED);
            Ack stale = mailer.complete(succeeded.getLease(), "{}");
            assertThat(stale.getStatus()).isEqualTo(AckStatus.ACK_STATUS_LEASE_LOST);
            assertThat(stale.getMessage()).contains("SUCCEEDED");
            assertThat(mailer.complete(running.getLease(), "\"sent\"").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
        }
    }

    @Test
    void statsShowsANonAdminOnlyItsOwnWorkerStreams() {
        try (RawWorker mailer = worker(MAILER, "mailer-stats", "email.stats");
             RawWorker printer = worker(PRINTER, "printer-stats", "print.stats");
             JobwireClient asMailer = client(MAILER);
             JobwireClient asShop = client(SHOP);
             JobwireClient asOps = client(OPS)) {
            assertThat(asMailer.stats().getWorkersList()).extracting(WorkerInfo::getWorkerId)
                    .contains("mailer-stats").doesNotContain("printer-stats");
            assertThat(asShop.stats().getWorkersList()).isEmpty();
            assertThat(asOps.stats().getWorkersList()).extracting(WorkerInfo::getWorkerId)
                    .contains("mailer-stats", "printer-stats");
        }
    }

    @Test
    void listJobTypesShowsANonAdminOnlyTheTypesItsTokenMayUse() {
        try (RawWorker mailer = worker(MAILER, "mailer-types", "email.types");
             RawWorker printer = worker(PRINTER, "printer-types", "print.types");
             JobwireClient asMailer = client(MAILER);
             JobwireClient asOps = client(OPS)) {
            assertThat(asMailer.jobTypes()).extracting(JobTypeInfo::getName)
                    .contains("email.types").noneMatch(name -> name.startsWith("print."));
            assertThat(asOps.jobTypes()).extracting(JobTypeInfo::getName).contains("email.types", "print.types");
        }
    }

    @Test
    void aWorkerIdBelongsToThePrincipalThatFirstUsedIt() {
        RawWorker first = worker(MAILER, "shared-name", "email.bound");
        first.close();
        RawWorker impostor = RawWorker.open(stub(PRINTER));
        impostor.send(WorkerMessage.newBuilder().setHello(RawWorker.hello("shared-name", 1, "print.bound")).build());
        Status refused = impostor.awaitClosed();
        assertThat(refused.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(refused.getDescription()).contains("worker id").contains("another principal");
        assertThat(impostor.receives(BrokerMessage::hasWelcome, java.time.Duration.ZERO)).isFalse();
        try (RawWorker again = worker(MAILER, "shared-name", "email.bound")) {
            assertThat(again.isClosed()).isFalse();
        }
    }
}
