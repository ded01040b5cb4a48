package io.jobwire.broker.store;

import java.sql.SQLException;
import java.util.Set;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;
import org.jdbi.v3.core.HandleCallback;

/**
 * Runs a unit of work in one transaction, repeating it when PostgreSQL aborted it for a deadlock or a
 * serialization failure: both mean "nothing happened, try again".
 */
final class Transactions {
    private static final Set<String> RETRYABLE_STATES = Set.of("40001", "40P01");
    private static final int MAX_TRIES = 5;

    private final Jdbi jdbi;

    Transactions(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    <T> T run(HandleCallback<T, RuntimeException> work) {
        for (int attempt = 1; ; attempt++) {
            try {
                return jdbi.inTransaction(work);
            } catch (JdbiException e) {
                if (attempt >= MAX_TRIES || !isRetryable(e)) {
                    throw e;
                }
            }
        }
    }

    /**
     * Like {@link #run}, for the hot statements that reach jobs through an index: each is planned for
     * its actual batch (a custom plan, so the planner knows how many rows unnest yields instead of a
     * generic guess), and never with a sequential or bitmap scan. A queue table can grow from empty to
     * millions of rows between two ANALYZEs; a scan chosen while it looked empty is ruinous once it is
     * big, and bitmap scans cannot mark the dead index entries a queue leaves behind, so every later scan
     * pays for them again. Plain index scans do mark them.
     */
    <T> T runKeyed(HandleCallback<T, RuntimeException> work) {
        return run(handle -> {
            handle.execute(KEYED_PLANS);
            return work.withHandle(handle);
        });
    }

    private static final String KEYED_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan; "
            + "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off";

    private static boolean isRetryable(Throwable error) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLException sql && RETRYABLE_STATES.contains(sql.getSQLState())) {
                return true;
            }
        }
        return false;
    }
}
