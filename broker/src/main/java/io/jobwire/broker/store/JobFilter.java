package io.jobwire.broker.store;

import java.util.List;
import java.util.Map;

/**
 * Which jobs List returns: every non-null, non-empty field must match (a list: any of its values). {@code pastId} continues a
 * page; {@code payloadContains} is a JSON object the payload must contain.
 */
public record JobFilter(
        List<JobStatus> states,
        List<String> types,
        List<String> queues,
        String owner,
        Map<String, String> labels,
        String payloadContains,
        /** Only the jobs this job submitted with its job token; null: any. */
        Long parentId,
        /** Continues a page: ids below it (newest first) or above it (oldest first); null: the first page. */
        Long pastId,
        boolean oldestFirst,
        int limit) {
}
