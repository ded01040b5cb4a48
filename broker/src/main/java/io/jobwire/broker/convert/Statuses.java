package io.jobwire.broker.convert;

import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLTransientConnectionException;
import java.util.concurrent.atomic.AtomicLong;
import io.jobwire.broker.store.GroupCommit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where failures become gRPC statuses. Statuses raised on purpose pass through; an
 * unreachable or restarting database is UNAVAILABLE (retry later); anything else is a bug of ours,
 * logged with a reference the caller can quote, and INTERNAL.
 */
public final class Statuses {
    private static final Logger log = LoggerFactory.getLogger(Statuses.class);
    private static final AtomicLong REFERENCES = new AtomicLong();

    private Statuses() {
    }

    public static Status from(Throwable error) {
        if (error instanceof StatusRuntimeException status) {
            return status.getStatus();
        }
        if (error instanceof StatusException status) {
            return status.getStatus();
        }
        if (error instanceof GroupCommit.ClosedException) {
            return Status.UNAVAILABLE.withDescription("the broker is shutting down; try another broker or again shortly");
        }
        if (error instanceof GroupCommit.BackloggedException) {
            return Status.UNAVAILABLE.withDescription("the broker is behind the database (" + error.getMessage() + ")");
        }
        if (isDatabaseUnavailable(error)) {
            log.warn("database unavailable: {}", rootMessage(error));
            return Status.UNAVAILABLE.withDescription("the job database is unavailable; try again shortly")
                    .withCause(error);
        }
        long reference = REFERENCES.incrementAndGet();
        log.error("internal error (ref {})", reference, error);
        return Status.INTERNAL.withDescription("internal broker error (ref " + reference + " in the broker log)")
                .withCause(error);
    }

    /** The status to answer with; a refusal's own trailers (google.rpc details, say) go with it. */
    public static StatusRuntimeException asException(Throwable error) {
        if (error instanceof StatusRuntimeException refusal && refusal.getTrailers() != null) {
            return refusal;
        }
        return from(error).asRuntimeException();
    }

    /**
     * True when the database cannot be reached or is shutting down or starting: connection-class SQL
     * states (08xxx), admin shutdown / crash / cannot connect now (57P01-57P03), too many connections
     * (53300), read-only after failover (25006), and the pool's own connection timeouts.
     */
    public static boolean isDatabaseUnavailable(Throwable error) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLTransientConnectionException || cause instanceof SQLNonTransientConnectionException) {
                return true;
            }
            if (cause instanceof SQLException sql && sql.getSQLState() != null) {
                String state = sql.getSQLState();
                if (state.startsWith("08") || state.equals("57P01") || state.equals("57P02")
                        || state.equals("57P03") || state.equals("53300") || state.equals("25006")) {
                    return true;
                }
            }
            if (cause == cause.getCause()) {
                break;
            }
        }
        return false;
    }

    private static String rootMessage(Throwable error) {
        Throwable root = error;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage();
    }
}
