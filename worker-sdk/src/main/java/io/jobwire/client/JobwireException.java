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

    private static final String NOT_TLS_HINT = "if it serves TLS, connect with TLS (CLI --ca-file, SDK .tls(caFile))";

    private final Status.Code code;

    public JobwireException(Status.Code code, String message, Throwable cause) {
        super(code + (message == null || message.isEmpty() ? "" : ": " + message), cause);
        this.code = code;
    }

    /** Wraps a gRPC failure, keeping its code and description (see {@link #describe(Status)}). */
    public static JobwireException from(StatusRuntimeException e) {
        return new JobwireException(e.getStatus().getCode(), describe(e.getStatus()), e);
    }

    /**
     * The status's description, or for a failed connection what most likely went wrong. gRPC reports a
     * plaintext client at a TLS port as "Network closed for unknown reason" and a TLS client at a
     * plaintext port as an "io exception"; neither says what to do.
     */
    public static String describe(Status status) {
        String description = status.getDescription();
        if (status.getCode() != Status.Code.UNAVAILABLE) {
            return description;
        }
        for (Throwable cause = status.getCause(); cause != null; cause = cause.getCause()) {
            if (cause instanceof javax.net.ssl.SSLException || cause.getClass().getSimpleName().equals("NotSslRecordException")) {
                return "the TLS handshake failed (" + cause.getMessage() + "): if the broker serves plaintext, "
                        + "connect without TLS; otherwise check the CA file";
            }
            if (cause instanceof java.net.ConnectException) {
                return "cannot connect: " + cause.getMessage();
            }
            if (cause.getMessage() != null && cause.getMessage().contains("Connection reset by peer")) {
                return "the broker reset the connection: " + NOT_TLS_HINT;
            }
        }
        if ("Network closed for unknown reason".equals(description)) {
            return "the broker closed the connection before answering: " + NOT_TLS_HINT;
        }
        return description;
    }

    public Status.Code code() {
        return code;
    }
}
