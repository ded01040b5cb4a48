package io.jobwire.broker.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.broker.testing.BrokerFixture;
import org.junit.jupiter.api.Test;

/** Oversized messages and metadata are refused by the transport, write nothing, and the broker carries on. */
class TransportLimitsTest {
    @Test
    void oversizedMessagesAndMetadataAreRefused() {
        try (BrokerFixture broker = BrokerFixture.start(c -> c.maxPayloadBytes(64 * 1024))) {
            // The inbound message limit is 8 x the payload limit + 1 MiB: 1.5 MiB here.
            SubmitBatchRequest.Builder huge = SubmitBatchRequest.newBuilder();
            for (int i = 0; i < 30; i++) {
                huge.addJobs(JobSpec.newBuilder().setType("limits.big").setPayload("\"" + "x".repeat(60 * 1024) + "\""));
            }
            assertThatThrownBy(() -> broker.jobs().submitBatch(huge.build()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class,
                            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));

            // gRPC-java reports the refused header block as INTERNAL ("http2 exception") on the client's side:
            // the transport decides that before any broker code runs.
            Metadata headers = new Metadata();
            headers.put(Metadata.Key.of("x-padding", Metadata.ASCII_STRING_MARSHALLER), "p".repeat(20 * 1024));
            assertThatThrownBy(() -> broker.jobs().withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                    .submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder().setType("limits.meta")).build()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
                            .as(e.getStatus().toString()).isNotIn(Status.Code.OK, Status.Code.UNKNOWN));

            assertThat(broker.queryLong("SELECT count(*) FROM jobs")).isZero();
            assertThat(broker.submit("limits.after", "{}")).as("the broker carries on").isNotEmpty();
        }
    }
}
