package io.jobwire.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.broker.cli.JobwireCommand;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.TestCertificates;
import io.jobwire.client.JobwireClient;
import io.jobwire.client.JobwireException;
import io.jobwire.worker.Worker;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS on the gRPC port, verified by the SDK and the CLI with a CA file; mutual TLS as an option. */
class TlsTest {
    @TempDir
    Path dir;

    private static JobwireClient.Builder client(BrokerFixture broker) {
        return JobwireClient.builder().target("localhost:" + broker.broker().port()).deadline(Duration.ofSeconds(5));
    }

    @Test
    void clientsThatTrustTheCaGetInAndOthersDoNot() throws Exception {
        TestCertificates.Pem server = TestCertificates.create(dir, "broker");
        TestCertificates.Pem stranger = TestCertificates.create(dir, "stranger");
        try (BrokerFixture broker = BrokerFixture.start(c -> c.tlsCert(server.certificate()).tlsKey(server.privateKey()))) {
            try (JobwireClient trusting = client(broker).tls(server.certificate()).build()) {
                String id = trusting.submit("tls.job", "{}").getId();
                assertThat(trusting.get(id).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
            }
            try (JobwireClient plaintext = client(broker).build()) {
                assertThatThrownBy(() -> plaintext.stats()).isInstanceOfSatisfying(JobwireException.class,
                        e -> assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE))
                        .hasMessageContaining("if it serves TLS, connect with TLS");
            }
            StringWriter plainErr = new StringWriter();
            int plainExit = JobwireCommand.commandLine().setErr(new PrintWriter(plainErr, true))
                    .execute("stats", "--target", "localhost:" + broker.broker().port());
            assertThat(plainExit).isEqualTo(3);
            assertThat(plainErr.toString()).contains("if it serves TLS, connect with TLS (CLI --ca-file")
                    .doesNotContain("Network closed for unknown reason").hasLineCount(1);
            try (JobwireClient wrongCa = client(broker).tls(stranger.certificate()).build()) {
                assertThatThrownBy(() -> wrongCa.stats()).isInstanceOfSatisfying(JobwireException.class,
                        e -> assertThat(e.code()).isEqualTo(Status.Code.UNAVAILABLE));
            }
            StringWriter out = new StringWriter();
            int exit = JobwireCommand.commandLine().setOut(new PrintWriter(out, true))
                    .execute("stats", "--json", "--target", "localhost:" + broker.broker().port(),
                            "--ca-file", server.certificate().toString());
            assertThat(exit).isZero();
            assertThat(out.toString()).contains("tls.job");
        }
    }

    @Test
    void mutualTlsAdmitsOnlyClientsWithACertificateFromItsCa() throws Exception {
        TestCertificates.Pem server = TestCertificates.create(dir, "broker");
        TestCertificates.Pem workerCert = TestCertificates.create(dir, "worker");
        try (BrokerFixture broker = BrokerFixture.start(c -> c.tlsCert(server.certificate())
                .tlsKey(server.privateKey()).tlsClientCa(workerCert.certificate()))) {
            try (JobwireClient noCertificate = client(broker).tls(server.certificate()).build()) {
                assertThatThrownBy(() -> noCertificate.stats()).isInstanceOf(JobwireException.class);
            }
            try (JobwireClient withCertificate = client(broker).tls(server.certificate())
                    .clientCertificate(workerCert.certificate(), workerCert.privateKey()).build();
                 Worker worker = Worker.builder().target("localhost:" + broker.broker().port())
                         .tls(server.certificate()).clientCertificate(workerCert.certificate(), workerCert.privateKey())
                         .handle("mtls.job", job -> "\"over mutual TLS\"").start()) {
                Job done = withCertificate.submitAndWait(JobSpec.newBuilder().setType("mtls.job").build(),
                        Duration.ofSeconds(20), null);
                assertThat(done.getResult()).isEqualTo("\"over mutual TLS\"");
                assertThat(worker.isConnected()).isTrue();
            }
        }
    }

    @Test
    void halfATlsConfigurationIsRefused() {
        assertThatThrownBy(() -> io.jobwire.broker.Broker.builder(BrokerFixture.testConfig()
                .databaseUrl(io.jobwire.broker.testing.TestPostgres.newDatabase())
                .tlsCert(dir.resolve("cert.pem")).build()).start())
                .hasMessageContaining("--tls-cert and --tls-key go together");
    }
}
