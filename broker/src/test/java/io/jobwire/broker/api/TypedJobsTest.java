package io.jobwire.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.Duration;
import com.google.rpc.BadRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.jobwire.api.v1.GetJobTypeRequest;
import io.jobwire.api.v1.Hello;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobTypeDefaults;
import io.jobwire.api.v1.JobTypeInfo;
import io.jobwire.api.v1.JobTypeRegistration;
import io.jobwire.api.v1.JobTypeSpec;
import io.jobwire.api.v1.ListJobTypesRequest;
import io.jobwire.api.v1.RegisterJobTypeRequest;
import io.jobwire.api.v1.RetryPolicy;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.UnregisterJobTypeRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Types an admin registers: payloads checked against their schema, defaults applied, shown with what workers announce. */
class TypedJobsTest {
    private static final String ORDER_SCHEMA = """
            {"type": "object", "required": ["order", "amount"], "additionalProperties": false,
             "properties": {"order": {"type": "string", "minLength": 1},
                            "amount": {"type": "number", "minimum": 0},
                            "items": {"type": "array", "items": {"type": "integer"}}}}""";

    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    private static JobTypeInfo register(JobTypeRegistration.Builder registration) {
        return fixture.jobs().registerJobType(RegisterJobTypeRequest.newBuilder().setRegistration(registration).build());
    }

    private static Job submit(String type, String payload) {
        return fixture.jobs().submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder().setType(type)
                .setPayload(payload)).build()).getJob();
    }

    private static long jobsOfType(String type) {
        return fixture.queryLong("SELECT count(*) FROM jobs WHERE type = '" + type + "'");
    }

    @Test
    void aPayloadThatBreaksTheSchemaIsRefusedWithEveryViolationAndNothingIsWritten() {
        register(JobTypeRegistration.newBuilder().setName("typed.order").setPayloadSchema(ORDER_SCHEMA));
        assertThat(submit("typed.order", "{\"order\": \"A-1\", \"amount\": 12.5, \"items\": [1, 2]}").getType())
                .isEqualTo("typed.order");

        assertThatThrownBy(() -> submit("typed.order", "{\"amount\": \"twelve\", \"items\": [1, \"x\"], \"color\": \"red\"}"))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription())
                            .startsWith("job.payload: does not match the schema of type typed.order: ");
                    BadRequest details = badRequest(e);
                    assertThat(details.getFieldViolationsList()).extracting(BadRequest.FieldViolation::getField)
                            .containsExactlyInAnyOrder("job.payload", "job.payload/amount", "job.payload/items/1",
                                    "job.payload");
                    assertThat(details.getFieldViolationsList()).allSatisfy(violation ->
                            assertThat(violation.getDescription()).isNotBlank());
                });
        assertThat(jobsOfType("typed.order")).as("only the valid job").isEqualTo(1);
    }

    @Test
    void aBatchWithOneBadPayloadIsRefusedWhole() {
        register(JobTypeRegistration.newBuilder().setName("typed.batch").setPayloadSchema(ORDER_SCHEMA));
        SubmitBatchRequest batch = SubmitBatchRequest.newBuilder()
                .addJobs(JobSpec.newBuilder().setType("typed.batch").setPayload("{\"order\": \"A\", \"amount\": 1}"))
                .addJobs(JobSpec.newBuilder().setType("typed.batch").setPayload("{\"order\": \"\", \"amount\": 1}"))
                .build();
        assertThatThrownBy(() -> fixture.jobs().submitBatch(batch))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getDescription()).startsWith("jobs[1].payload: does not match");
                    assertThat(badRequest(e).getFieldViolationsList()).extracting(BadRequest.FieldViolation::getField)
                            .containsExactly("jobs[1].payload/order");
                });
        assertThat(jobsOfType("typed.batch")).isZero();
    }

    @Test
    void draft7SchemasWorkToo() {
        register(JobTypeRegistration.newBuilder().setName("typed.draft7").setPayloadSchema("""
                {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                 "properties": {"to": {"type": "string", "format": "email"}},
                 "dependencies": {"cc": ["to"]}}"""));
        submit("typed.draft7", "{\"to\": \"a@example.com\"}");
        assertThatThrownBy(() -> submit("typed.draft7", "{\"cc\": \"b@example.com\"}"))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    }

    @Test
    void aSchemaThatIsNotOneIsRefusedAtRegistration() {
        assertRefused(JobTypeRegistration.newBuilder().setName("typed.bad").setPayloadSchema("{\"type\": 5}"),
                "registration.payload_schema: is not a valid schema");
        assertRefused(JobTypeRegistration.newBuilder().setName("typed.bad").setPayloadSchema("[1, 2]"),
                "registration.payload_schema: must be a JSON object");
        assertRefused(JobTypeRegistration.newBuilder().setName("typed.bad").setResultSchema("{not json"),
                "registration.result_schema: is not valid JSON");
        assertRefused(JobTypeRegistration.newBuilder().setName("typed.bad")
                        .setPayloadSchema("{\"$ref\": \"http://169.254.169.254/latest/schema.json\"}"),
                "registration.payload_schema: cannot be used");
        assertRefused(JobTypeRegistration.newBuilder().setName("typed.bad")
                        .setDefaults(JobTypeDefaults.newBuilder().setMaxAttempts(-1)),
                "registration.defaults.max_attempts: must be between 1 and");
        assertThatThrownBy(() -> fixture.jobs().getJobType(GetJobTypeRequest.newBuilder().setName("typed.bad").build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e ->
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }

    private static void assertRefused(JobTypeRegistration.Builder registration, String message) {
        assertThatThrownBy(() -> register(registration)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).startsWith(message);
        });
    }

    @Test
    void theTypesDefaultsFillWhatTheSpecLeavesUnset() {
        register(JobTypeRegistration.newBuilder().setName("typed.defaults").setDefaults(JobTypeDefaults.newBuilder()
                .setQueue("invoices").setMaxAttempts(9).setLeaseDuration(Duration.newBuilder().setSeconds(120))
                .setRetryPolicy(RetryPolicy.newBuilder().setInitialDelay(Duration.newBuilder().setSeconds(7)))));
        Job defaulted = submit("typed.defaults", "{}");
        assertThat(defaulted.getQueue()).isEqualTo("invoices");
        assertThat(defaulted.getMaxAttempts()).isEqualTo(9);
        assertThat(defaulted.getLeaseDuration().getSeconds()).isEqualTo(120);
        assertThat(fixture.queryLong("SELECT retry_initial_ms FROM jobs WHERE id = " + defaulted.getId())).isEqualTo(7000);

        Job own = fixture.jobs().submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder().setType("typed.defaults")
                .setQueue("urgent").setMaxAttempts(2)).build()).getJob();
        assertThat(own.getQueue()).isEqualTo("urgent");
        assertThat(own.getMaxAttempts()).isEqualTo(2);
    }

    @Test
    void aWorkersOtherSchemaIsShownAndNeverWins() throws Exception {
        JobTypeInfo registered = register(JobTypeRegistration.newBuilder().setName("typed.announced")
                .setDescription("registered words").setPayloadSchema("{\"type\": \"object\", \"required\": [\"id\"]}")
                .addUses("smtp").addUses("s3:invoices"));
        assertThat(registered.getRegistrationVersion()).isEqualTo(1);
        try (RawWorker worker = fixture.connectWorker(Hello.newBuilder().setWorkerId("announcer").setMaxConcurrency(1)
                .addJobTypes(JobTypeSpec.newBuilder().setName("typed.announced").setDescription("worker words")
                        .setPayloadSchema("{\"type\": \"object\"}")).build())) {
            await().until(() -> fixture.jobs().getJobType(GetJobTypeRequest.newBuilder().setName("typed.announced")
                    .build()).getWorkersOnline() == 1);
            JobTypeInfo info = fixture.jobs().getJobType(GetJobTypeRequest.newBuilder().setName("typed.announced").build());
            assertThat(info.getAnnouncedSchemaDiffers()).isTrue();
            assertThat(info.getRegistration().getUsesList()).containsExactly("smtp", "s3:invoices");
            assertThat(info.getDescription()).isEqualTo("worker words");
            assertThat(info.getRegistration().getDescription()).isEqualTo("registered words");
            assertThatThrownBy(() -> submit("typed.announced", "{}")).as("the registered schema is the one checked")
                    .isInstanceOf(StatusRuntimeException.class);
            assertThat(fixture.jobs().listJobTypes(ListJobTypesRequest.getDefaultInstance()).getJobTypesList())
                    .filteredOn(type -> type.getName().equals("typed.announced"))
                    .singleElement().satisfies(type -> assertThat(type.getAnnouncedSchemaDiffers()).isTrue());
        }
    }

    @Test
    void changingAndRemovingARegistrationTakesEffectAtOnce() {
        register(JobTypeRegistration.newBuilder().setName("typed.change").setPayloadSchema("{\"required\": [\"a\"]}"));
        assertThatThrownBy(() -> submit("typed.change", "{\"b\": 1}")).isInstanceOf(StatusRuntimeException.class);
        JobTypeInfo changed = register(JobTypeRegistration.newBuilder().setName("typed.change")
                .setPayloadSchema("{\"required\": [\"b\"]}"));
        assertThat(changed.getRegistrationVersion()).isEqualTo(2);
        submit("typed.change", "{\"b\": 1}");
        fixture.jobs().unregisterJobType(UnregisterJobTypeRequest.newBuilder().setName("typed.change").build());
        submit("typed.change", "{\"c\": 1}");
        assertThatThrownBy(() -> fixture.jobs().unregisterJobType(UnregisterJobTypeRequest.newBuilder()
                .setName("typed.change").build())).isInstanceOfSatisfying(StatusRuntimeException.class, e ->
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }

    @Test
    void aStrictBrokerTakesOnlyRegisteredTypesIncludingOnesRegisteredThroughAnotherBroker() {
        try (BrokerFixture strict = BrokerFixture.start(fixture.jdbcUrl(), config -> config.strictTypes(true))) {
            assertThatThrownBy(() -> strict.jobs().submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder()
                    .setType("typed.strict")).build())).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                        assertThat(e.getStatus().getDescription()).startsWith("job.type: type typed.strict is not registered");
                    });
            register(JobTypeRegistration.newBuilder().setName("typed.strict")); // through the other broker
            Job job = strict.jobs().submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder()
                    .setType("typed.strict")).build()).getJob();
            assertThat(job.getType()).isEqualTo("typed.strict");
        }
    }

    @Test
    void aChangeThroughAnotherBrokerReachesThisOneWithinItsRefresh() {
        try (BrokerFixture other = BrokerFixture.start(fixture.jdbcUrl(), config -> config)) {
            other.jobs().registerJobType(RegisterJobTypeRequest.newBuilder().setRegistration(JobTypeRegistration
                    .newBuilder().setName("typed.elsewhere").setPayloadSchema("{\"required\": [\"x\"]}")).build());
            await().untilAsserted(() -> assertThatThrownBy(() -> submit("typed.elsewhere", "{}"))
                    .isInstanceOf(StatusRuntimeException.class));
        }
    }

    private static BadRequest badRequest(StatusRuntimeException e) {
        com.google.rpc.Status status = StatusProto.fromThrowable(e);
        assertThat(status).isNotNull();
        return status.getDetailsList().stream().filter(any -> any.is(BadRequest.class)).findFirst()
                .map(any -> {
                    try {
                        return any.unpack(BadRequest.class);
                    } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
                        throw new AssertionError(ex);
                    }
                }).orElseThrow(() -> new AssertionError("no BadRequest in " + status));
    }
}
