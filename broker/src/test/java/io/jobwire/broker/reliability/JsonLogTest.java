package io.jobwire.broker.reliability;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.WorkerServiceGrpc;
import io.jobwire.broker.reliability.Processes.BrokerProcess;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.broker.testing.TestPostgres;
import io.jobwire.client.JobwireClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve --log-format json}: every line one JSON object, job lines with job_id, job_type and owner. */
class JsonLogTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dir;

    @Test
    void everyLineIsJsonAndJobLinesNameTheJob() throws Exception {
        Path log = dir.resolve("broker.log");
        try (BrokerProcess broker = new BrokerProcess(Processes.freePort(), TestPostgres.newDatabase(), log)
                // the broker's own logback.xml (INFO), not the tests' (WARN)
                .start(List.of("-Dlogback.configurationFile=" + Path.of("target", "classes", "logback.xml").toAbsolutePath()),
                        List.of("--log-format", "json"));
             JobwireClient client = JobwireClient.connect("127.0.0.1:" + broker.port)) {
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", broker.port).usePlaintext().build();
            try (RawWorker silent = RawWorker.connect(WorkerServiceGrpc.newStub(channel), "silent", 1, "log.silent")) {
                String expiring = client.submit(JobSpec.newBuilder().setType("log.silent").setPayload("{}").setOwner("acme")
                        .setLeaseDuration(com.google.protobuf.Duration.newBuilder().setSeconds(1)).build()).getJob().getId();
                silent.take(1); // and never heartbeats: the lease runs out
                String cancelled = client.submit(JobSpec.newBuilder().setType("log.cancel").setPayload("{}").setOwner("acme")
                        .build()).getJob().getId();
                client.cancel(cancelled, "not needed");

                JsonNode expiry = await().atMost(scaled(Duration.ofSeconds(30)))
                        .until(() -> line(log, "job_id", expiring), Optional::isPresent).get();
                assertThat(expiry.path("level").asText()).isEqualTo("WARN");
                assertThat(expiry.path("job_type").asText()).isEqualTo("log.silent");
                assertThat(expiry.path("owner").asText()).isEqualTo("acme");
                assertThat(expiry.path("message").asText()).contains("lease of job " + expiring);
                JsonNode cancel = line(log, "job_id", cancelled).orElseThrow(() -> new AssertionError("no line for job " + cancelled + " in:\n" + read(log)));
                assertThat(cancel.path("job_type").asText()).isEqualTo("log.cancel");
                assertThat(cancel.path("owner").asText()).isEqualTo("acme");
                assertThat(cancel.path("level").asText()).isEqualTo("INFO");
            } finally {
                channel.shutdownNow();
            }
            List<JsonNode> lines = lines(log);
            assertThat(lines).anySatisfy(l -> assertThat(l.path("message").asText()).contains("listening on"));
        }
    }

    /** Every line of the log, each of which must be one JSON object. */
    private static List<JsonNode> lines(Path log) throws Exception {
        List<JsonNode> nodes = new ArrayList<>();
        for (String line : Files.readAllLines(log)) {
            if (!line.isBlank()) {
                JsonNode node = JSON.readTree(line);
                assertThat(node.isObject()).as("a JSON object: %s", line).isTrue();
                assertThat(node.has("@timestamp") && node.has("level") && node.has("message")).as(line).isTrue();
                nodes.add(node);
            }
        }
        return nodes;
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    private static Optional<JsonNode> line(Path log, String field, String value) throws Exception {
        return lines(log).stream().filter(n -> n.path(field).asText().equals(value)).findFirst();
    }
}
