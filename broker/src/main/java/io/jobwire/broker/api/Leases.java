package io.jobwire.broker.api;

import io.jobwire.api.v1.LeaseRef;
import java.util.UUID;

/** Parses lease references from workers; a bad one is described rather than thrown. */
final class Leases {
    private Leases() {
    }

    /** A parsed lease, or the reason it could not be parsed. */
    record Parsed(io.jobwire.broker.store.LeaseRef lease, String problem) {
        boolean ok() {
            return problem == null;
        }
    }

    static Parsed parse(String field, LeaseRef ref) {
        long jobId;
        try {
            jobId = JobIds.parse(ref.getJobId());
        } catch (IllegalArgumentException e) {
            return new Parsed(null, field + ".job_id: " + e.getMessage());
        }
        if (ref.getAttempt() < 1) {
            return new Parsed(null, field + ".attempt: must be at least 1, got " + ref.getAttempt());
        }
        UUID token;
        try {
            token = UUID.fromString(ref.getLeaseToken());
        } catch (IllegalArgumentException e) {
            return new Parsed(null, field + ".lease_token: is not a lease token from an Assign");
        }
        return new Parsed(new io.jobwire.broker.store.LeaseRef(jobId, ref.getAttempt(), token), null);
    }
}
