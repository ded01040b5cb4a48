package io.jobwire.broker.api;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** Builds the statuses for bad input: each names the field at fault. */
final class InvalidArgument {
    private InvalidArgument() {
    }

    static StatusRuntimeException of(String field, String problem) {
        return Status.INVALID_ARGUMENT.withDescription(field + ": " + problem).asRuntimeException();
    }

    static StatusRuntimeException tooLarge(String field, long size, long limit) {
        return Status.RESOURCE_EXHAUSTED
                .withDescription(field + ": " + size + " bytes is over the limit of " + limit + " bytes")
                .asRuntimeException();
    }
}
