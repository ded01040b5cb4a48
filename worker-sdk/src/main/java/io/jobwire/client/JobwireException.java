package io.jobwire.client;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * A call to the broker failed. {@link #code()} is the gRPC status code (for example {@code NOT_FOUND},
 * {@code INVALID_ARGUMENT}, {@code UNAVAILABLE}) and the message is the broker's own explanation.
 *
 * <pre>{@code
 * try {
 *     client.cancel(id);
 * } catch (JobwireException e) {
 *     if (e.code() != Status.Code.FAILED_PRECONDITION) throw e; // already finished: fine
 * }
 * }</pre>
 */
public final class JobwireException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Status.Code code;

    public JobwireException(Status.Code code, String message, Throwable cause) {
        super(code + (message == null || message.isEmpty() ? "" : ": " + message), cause);
        this.code = code;
    }

    /** Wraps a gRPC failure, keeping its code and description. */
    public static JobwireException from(StatusRuntimeException e) {
        return new JobwireException(e.getStatus().getCode(), e.getStatus().getDescription(), e);
    }

    public Status.Code code() {
        return code;
    }
}
