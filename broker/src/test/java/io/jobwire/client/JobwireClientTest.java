package io.jobwire.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobTypeInfo;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.SubmitResponse;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** JobwireClient against a real broker. */
class JobwireClientTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();
    private static JobwireClient client;

    @BeforeAll
    static void start() {
        client = fixture.client();
    }

    @Test
    void submitWritesObjectsAsJsonAndPassesJsonTextThrough() {
        Job fromObject = client.submit("client.obj", Map.of("to", "ada@example.com"));
        Job fromText = client.submit("client.text", "{\"raw\":true}");
        assertThat(client.get(fromObject.getId()).getPayload()).isEqualTo("{\"to\": \"ada@example.com\"}");
        assertThat(client.get(fromText.getId()).getPayload()).isEqualTo("{\"raw\": true}");
    }

    @Test
    void batchAndIdempotentSubmit() {
        List<SubmitResponse> results = client.submitBatch(List.of(
                JobSpec.newBuilder().setType("client.batch").setIdempotencyKey("b-1").build(),
                JobSpec.newBuilder().setType("client.batch").setIdempotencyKey("b-1").build()));
        assertThat(results).extracting(SubmitResponse::getCreated).containsExactly(true, false);
        assertThat(results.get(1).getJob().getId()).isEqualTo(results.get(0).getJob().getId());
    }

    @Test
    void listAllPagesThroughEverything() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            ids.add(client.submit("client.paged", "{}").getId());
        }
        List<String> listed = client.listAll(ListRequest.newBuilder().setType("client.paged").setPageSize(3).build())
                .map(Job::getId).toList();
        java.util.Collections.reverse(ids);
        assertThat(listed).containsExactlyElementsOf(ids);
    }

    @Test
    void operatorCallsAndErrors() {
        String id = client.submit("client.ops", "{}").getId();
        assertThat(client.hold(id).getState()).isEqualTo(JobState.JOB_STATE_HELD);
        assertThat(client.release(id).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
        assertThat(client.cancel(id, "because").getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
        assertThat(client.retry(id).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
        assertThatThrownBy(() -> client.get("123456789")).isInstanceOfSatisfying(JobwireException.class, e -> {
            assertThat(e.code()).isEqualTo(Status.Code.NOT_FOUND);
            assertThat(e.getMessage()).contains("123456789");
        });
        assertThatThrownBy(() -> client.submit("bad type", "{}")).isInstanceOfSatisfying(JobwireException.class,
                e -> assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT));
        assertThat(client.stats().getQueuesList()).extracting(q -> q.getType()).contains("client.ops");
    }

    @Test
    void watchAsIteratorAndAsCallback() throws Exception {
        RawWorker worker = fixture.connectWorker("client-watch", 1, "client.watch");
        String id = client.submit("client.watch", "{}").getId();
        List<WatchEvent> callbackEvents = new CopyOnWriteArrayList<>();
        CompletableFuture<JobwireException> ended = new CompletableFuture<>();
        JobwireClient.Subscription subscription = client.watch(WatchRequest.newBuilder().addIds(id).build(),
                callbackEvents::add, ended::complete);
        CompletableFuture<List<JobState>> iterated = CompletableFuture.supplyAsync(() -> {
            List<JobState> states = new ArrayList<>();
            try (JobWatch watch = client.watch(WatchRequest.newBuilder().addIds(id).build())) {
                watch.forEachRemaining(event -> {
                    if (event.hasJob()) {
                        states.add(event.getJob().getState());
                    }
                });
            }
            return states;
        });
        worker.complete(worker.take(1).get(0).getLease(), "1");
        assertThat(iterated.get(10, TimeUnit.SECONDS)).endsWith(JobState.JOB_STATE_SUCCEEDED);
        assertThat(ended.get(10, TimeUnit.SECONDS)).as("ended normally").isNull();
        assertThat(callbackEvents).anyMatch(WatchEvent::getCaughtUp);
        assertThat(callbackEvents.get(callbackEvents.size() - 1).getJob().getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
        subscription.close();
    }

    @Test
    void readsMoveOnToTheNextTargetWhenOneIsDown() throws Exception {
        int deadPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            deadPort = socket.getLocalPort();
        }
        try (JobwireClient failover = JobwireClient.builder().target("127.0.0.1:" + deadPort)
                .target("127.0.0.1:" + fixture.broker().port()).deadline(Duration.ofSeconds(5)).build()) {
            String id = client.submit("client.failover", "{}").getId();
            assertThat(failover.get(id).getId()).isEqualTo(id);
            SubmitResponse keyed = failover.submit(JobSpec.newBuilder().setType("client.failover").setIdempotencyKey("f-1").build());
            assertThat(keyed.getCreated()).isTrue();
        }
    }

    @Test
    void submitAndWaitTimesOutButTheJobRunsOn() {
        assertThatThrownBy(() -> client.submitAndWait(JobSpec.newBuilder().setType("client.nobody").build(),
                Duration.ofMillis(700), null))
                .isInstanceOfSatisfying(JobwireException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    }

    @Test
    void aRegisteredTypesSchemaRefusesABadPayloadWithEachViolation() {
        JobTypeInfo info = client.registerJobType(io.jobwire.api.v1.JobTypeRegistration.newBuilder()
                .setName("client.typed").setDescription("Sends one email")
                .setPayloadSchema("{\"type\": \"object\", \"required\": [\"to\"]}").addUses("smtp").build());
        assertThat(info.getRegistrationVersion()).isEqualTo(1);
        assertThat(client.jobType("client.typed").getRegistration().getUsesList()).containsExactly("smtp");
        assertThat(client.submit("client.typed", Map.of("to", "ada@example.com")).getType()).isEqualTo("client.typed");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> client.submit("client.typed", Map.of("cc", "x")))
                .isInstanceOfSatisfying(JobwireException.class, e -> {
                    assertThat(e.code()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getMessage()).contains("job.payload: does not match the schema of type client.typed");
                });
        client.unregisterJobType("client.typed");
        assertThat(client.submit("client.typed", Map.of("cc", "x")).getType()).isEqualTo("client.typed");
    }

    @Test
    void aQuotaRefusesWhatPassesItsLimitWithResourceExhausted() {
        client.setQuota(io.jobwire.api.v1.Quota.newBuilder().setOwner("client-quota").setPerMinute(2).build());
        JobSpec spec = JobSpec.newBuilder().setType("client.quota").setOwner("client-quota").build();
        client.submitBatch(List.of(spec, spec));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> client.submitBatch(List.of(spec)))
                .isInstanceOfSatisfying(JobwireException.class, e -> {
                    assertThat(e.code()).isEqualTo(io.grpc.Status.Code.RESOURCE_EXHAUSTED);
                    assertThat(e.getMessage()).contains("quota per-minute of owner client-quota");
                });
        assertThat(client.quotas()).filteredOn(usage -> usage.getQuota().getOwner().equals("client-quota"))
                .singleElement().satisfies(usage -> assertThat(usage.getSubmittedLastMinute()).isEqualTo(2));
        client.deleteQuota("client-quota", "*");
        assertThat(client.submitBatch(List.of(spec))).hasSize(1);
    }
}
