package io.jobwire.broker.store;

import java.util.List;

/**
 * Claim up to {@code limit} due jobs for one worker stream: at most {@code TypeQuota.limit} of each type,
 * from {@code queues} (empty: any queue). The leases are recorded as held by {@code principal} (null when
 * the broker does not authenticate).
 */
public record ClaimRequest(String workerId, String principal, List<TypeQuota> types, List<String> queues, int limit) {

    public record TypeQuota(String type, int limit) {
    }

    /** True when the claim could take nothing: no room, or no type. */
    public boolean asksForNothing() {
        return limit <= 0 || types.isEmpty();
    }
}
