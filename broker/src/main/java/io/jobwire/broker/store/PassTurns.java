package io.jobwire.broker.store;

import java.time.Duration;
import org.jdbi.v3.core.Jdbi;

/**
 * Turns at the background passes that every broker schedules but the brokers together need run once per
 * interval (migration V9): a broker runs such a pass only if no broker ran it within nine tenths of the
 * interval. The broker whose schedule comes first keeps the turn while it runs; when it stops, another
 * takes the next one within two intervals (nine tenths of one since the last run, plus its own schedule).
 */
public final class PassTurns {
    /** Of the interval, how long after a run nobody runs the pass again (a little slack for schedules). */
    private static final double GAP = 0.9;

    private final Jdbi jdbi;
    private final String brokerId;

    public PassTurns(Jdbi jdbi, String brokerId) {
        this.jdbi = jdbi;
        this.brokerId = brokerId;
    }

    /** True if this broker may run {@code pass} now; recorded as run by it. */
    public boolean take(String pass, Duration interval) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(PassTurns.class, "take_pass_turn"))
                .bind("pass", pass)
                .bind("brokerId", brokerId)
                .bind("gapMs", (long) (interval.toMillis() * GAP))
                .mapTo(String.class)
                .findOne()
                .isPresent());
    }
}
