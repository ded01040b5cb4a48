package io.jobwire.broker.api;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Keyset pages, newest first: a page token is the last id of the page before, behind a prefix naming the
 * list it belongs to, so a token of one list is refused by another.
 */
final class PageTokens {
    private final String prefix;
    private final String rpc;

    /** @param rpc the method whose next_page_token this is, for the refusal's message */
    PageTokens(String prefix, String rpc) {
        this.prefix = prefix;
        this.rpc = rpc;
    }

    /** The page size asked for: 0 means the default; outside 1 to the maximum is refused. */
    static int pageSize(int requested) {
        int pageSize = requested == 0 ? Limits.DEFAULT_PAGE_SIZE : requested;
        if (pageSize < 1 || pageSize > Limits.MAX_PAGE_SIZE) {
            throw InvalidArgument.of("page_size", "must be between 1 and " + Limits.MAX_PAGE_SIZE + ", got " + requested);
        }
        return pageSize;
    }

    /** The id the next page starts below, or null for the first page. */
    Long decode(String token) {
        if (token.isEmpty()) {
            return null;
        }
        try {
            String decoded = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
            if (decoded.startsWith(prefix)) {
                return JobIds.parse(decoded.substring(prefix.length()));
            }
        } catch (IllegalArgumentException e) {
            // fall through to the error below
        }
        throw InvalidArgument.of("page_token", "is not a next_page_token from a previous " + rpc);
    }

    String encode(long lastId) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString((prefix + lastId).getBytes(StandardCharsets.UTF_8));
    }
}
