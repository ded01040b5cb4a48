package io.jobwire.broker.store;

import java.util.List;

/**
 * Claim up to {@code limit} due jobs for one worker stream: at most {@code TypeQuota.limit} of each type,
 * from {@code queues} (empty: any queue).
 */
public record ClaimRequest(String workerId, List<TypeQuota> types, List<String> queues, int limit) {

    public record TypeQuota(String type, int limit) {
    }
}
