package io.jobwire.broker.store;

import java.sql.SQLException;
import java.util.Set;
import java.util.function.Supplier;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;
import org.jdbi.v3.core.HandleCallback;

/**
 * Runs a unit of work, repeating it when PostgreSQL aborted it for a deadlock or a serialization
 * failure: both mean "nothing happened, try again".
 */
final class Transactions {
    private static final Set<String> RETRYABLE_STATES = Set.of("40001", "40P01");
    private static final int MAX_TRIES = 5;

    private final Jdbi jdbi;
    private final Jdbi keyed;

    /** @param keyed the pool for statements that reach jobs by key ({@link io.jobwire.broker.db.Database#keyedJdbi}) */
    Transactions(Jdbi jdbi, Jdbi keyed) {
        this.jdbi = jdbi;
        this.keyed = keyed;
    }

    /** In one transaction, on the general pool. */
    <T> T run(HandleCallback<T, RuntimeException> work) {
        return retrying(() -> jdbi.inTransaction(work));
    }

    /**
     * Work on the keyed pool. Unless {@code multiStatement}, it runs as one statement committed by itself
     * (autocommit), so the statement and its commit take one round trip; only its first statement may
     * change anything, the rest may only read. Multi-statement work runs in one transaction.
     */
    <T> T keyed(boolean multiStatement, HandleCallback<T, RuntimeException> work) {
        return retrying(() -> multiStatement ? keyed.inTransaction(work) : keyed.withHandle(work));
    }

    private static <T> T retrying(Supplier<T> work) {
        for (int attempt = 1; ; attempt++) {
            try {
                return work.get();
            } catch (JdbiException e) {
                if (attempt >= MAX_TRIES || !isRetryable(e)) {
                    throw e;
                }
            }
        }
    }

    private static boolean isRetryable(Throwable error) {
        return hasSqlState(error, RETRYABLE_STATES);
    }

    /** Whether the error, or any cause of it, is a database error with one of these SQLSTATEs. */
    static boolean hasSqlState(Throwable error, Set<String> states) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLException sql && states.contains(sql.getSQLState())) {
                return true;
            }
        }
        return false;
    }
}
