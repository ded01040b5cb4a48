package io.jobwire.broker.store;

import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;
import org.jdbi.v3.core.HandleCallback;

/**
 * Background work the brokers take turns at (emptying ring segments, rolling up counts, creating and
 * dropping history partitions): one transaction that starts with a transaction-level advisory try-lock,
 * so a broker finding another at it skips rather than waits, and bounds with {@code lock_timeout} how
 * long its table locks may wait for the statements that hold them, so a busy table is left for the next
 * pass rather than holding up the statements queued behind the lock.
 */
final class Turns {
    /** lock_not_available: the lock timeout expired. */
    static final Set<String> LOCK_NOT_AVAILABLE = Set.of("55P03");

    private Turns() {
    }

    /**
     * Runs {@code work} in one transaction if this broker gets the turn at {@code key} (and
     * {@code subKey}, if not null); empty if another broker has it, or a table lock waited longer than
     * {@code lockTimeoutMs} (0: as long as it takes).
     */
    static <T> Optional<T> take(Jdbi jdbi, String key, String subKey, int lockTimeoutMs,
                                HandleCallback<T, RuntimeException> work) {
        try {
            return jdbi.inTransaction(handle -> {
                if (lockTimeoutMs > 0) {
                    handle.execute("SET LOCAL lock_timeout = " + lockTimeoutMs);
                }
                if (!mine(handle, key, subKey)) {
                    return Optional.empty();
                }
                return Optional.ofNullable(work.withHandle(handle));
            });
        } catch (JdbiException e) {
            if (Transactions.hasSqlState(e, LOCK_NOT_AVAILABLE)) {
                return Optional.empty();
            }
            throw e;
        }
    }

    private static boolean mine(Handle handle, String key, String subKey) {
        String lock = subKey == null ? "pg_try_advisory_xact_lock(hashtext(:key))"
                : "pg_try_advisory_xact_lock(hashtext(:key), hashtext(:subKey))";
        return handle.createQuery("SELECT " + lock)
                .bind("key", key)
                .bind("subKey", subKey)
                .mapTo(Boolean.class)
                .one();
    }
}
