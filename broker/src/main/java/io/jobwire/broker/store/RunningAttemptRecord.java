package io.jobwire.broker.store;

/** A job's running attempt as its row says now: its lease, owner and type, and whether the lease still runs. */
public record RunningAttemptRecord(LeaseRef lease, String owner, String type, boolean unexpired) {
}
