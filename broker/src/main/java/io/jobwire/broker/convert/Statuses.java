package io.jobwire.broker.convert;

import com.google.protobuf.Any;
import com.google.rpc.QuotaFailure;
import com.google.rpc.RetryInfo;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import io.jobwire.broker.store.QuotaExceededException;
import io.jobwire.broker.store.QuotaStore;
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
        if (error instanceof QuotaExceededException refusal) {
            return Status.RESOURCE_EXHAUSTED.withDescription(describe(refusal));
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
        if (error instanceof QuotaExceededException refusal) {
            return quotaRefusal(refusal);
        }
        return from(error).asRuntimeException();
    }

    /** What a quota refusal says: which quota and limit, what is used, and when there will be room. */
    static String describe(QuotaExceededException refusal) {
        QuotaStore.Quota quota = refusal.quota();
        String what = "max-waiting".equals(refusal.limitName())
                ? "at most " + refusal.limit() + " jobs waiting or running at once; " + refusal.usage() + " are"
                : "at most " + refusal.limit() + " jobs submitted " + refusal.limitName().replace('-', ' ') + "; "
                        + refusal.usage() + " were in the last " + refusal.limitName().substring("per-".length());
        String room;
        if (refusal.asked() > refusal.limit()) {
            room = "; this submit alone has " + refusal.asked() + ", more than the limit";
        } else if (refusal.freedAt() != null) {
            long seconds = Math.max(1, java.time.Duration.between(refusal.now(), refusal.freedAt()).toSeconds());
            room = " and this submit has " + refusal.asked() + "; room again at " + refusal.freedAt() + " (in " + seconds
                    + " s)";
        } else {
            room = " and this submit has " + refusal.asked() + "; room again as they finish";
        }
        return "quota " + refusal.limitName() + " of owner " + quota.owner() + " for types " + quota.typePattern() + ": "
                + what + room;
    }

    private static StatusRuntimeException quotaRefusal(QuotaExceededException refusal) {
        QuotaStore.Quota quota = refusal.quota();
        com.google.rpc.Status.Builder status = com.google.rpc.Status.newBuilder()
                .setCode(Status.Code.RESOURCE_EXHAUSTED.value())
                .setMessage(describe(refusal))
                .addDetails(Any.pack(QuotaFailure.newBuilder().addViolations(QuotaFailure.Violation.newBuilder()
                        .setSubject("owner:" + quota.owner() + " types:" + quota.typePattern())
                        .setDescription(refusal.limitName() + " " + refusal.limit() + ": " + refusal.usage()
                                + " used, " + refusal.asked() + " asked")).build()));
        if (refusal.freedAt() != null && refusal.asked() <= refusal.limit()) {
            java.time.Duration wait = java.time.Duration.between(refusal.now(), refusal.freedAt());
            wait = wait.isNegative() ? java.time.Duration.ZERO : wait;
            status.addDetails(Any.pack(RetryInfo.newBuilder().setRetryDelay(com.google.protobuf.Duration.newBuilder()
                    .setSeconds(wait.getSeconds()).setNanos(wait.getNano())).build()));
        }
        return StatusProto.toStatusRuntimeException(status.build());
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
