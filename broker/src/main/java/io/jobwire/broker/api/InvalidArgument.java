package io.jobwire.broker.api;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.jobwire.broker.types.JsonSchema;
import java.util.List;

/** Builds the statuses for bad input: each names the field at fault. */
final class InvalidArgument {
    private InvalidArgument() {
    }

    static StatusRuntimeException of(String field, String problem) {
        return Status.INVALID_ARGUMENT.withDescription(field + ": " + problem).asRuntimeException();
    }

    /** The most violations listed in the BadRequest of one refused payload. */
    static final int MAX_VIOLATIONS = 100;

    /**
     * A payload that does not match its type's schema: the description names the first few violations;
     * a {@code google.rpc.BadRequest} detail lists each (up to {@value #MAX_VIOLATIONS}) as a field
     * violation whose field is {@code field} followed by the JSON Pointer into the payload.
     */
    static StatusRuntimeException ofPayload(String field, String type, List<JsonSchema.Violation> violations) {
        BadRequest.Builder details = BadRequest.newBuilder();
        violations.stream().limit(MAX_VIOLATIONS).forEach(violation -> details.addFieldViolations(
                BadRequest.FieldViolation.newBuilder().setField(field + violation.pointer())
                        .setDescription(violation.message())));
        return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
                .setCode(Status.Code.INVALID_ARGUMENT.value())
                .setMessage(field + ": does not match the schema of type " + type + ": "
                        + JsonSchema.describe(violations, 3))
                .addDetails(Any.pack(details.build()))
                .build());
    }

    static StatusRuntimeException tooLarge(String field, long size, long limit) {
        return Status.RESOURCE_EXHAUSTED
                .withDescription(field + ": " + size + " bytes is over the limit of " + limit + " bytes")
                .asRuntimeException();
    }
}
