package io.jobwire.broker.api;

import java.time.Duration;

/** The bounds on what callers may send, in one place. */
record Limits(long maxPayloadBytes, Duration defaultLease, boolean strictTypes) {
    static final int MIN_PRIORITY = -1000;
    static final int MAX_PRIORITY = 1000;
    static final int DEFAULT_MAX_ATTEMPTS = 5;
    static final int MAX_ATTEMPTS = 1000;
    static final Duration MIN_LEASE = Duration.ofSeconds(1);
    static final Duration MAX_LEASE = Duration.ofHours(24);
    static final Duration MIN_RUN_TIMEOUT = Duration.ofSeconds(1);
    static final int MAX_CONCURRENCY_KEY = 256;
    static final int MAX_RATE_KEY = 256;
    /** Jobs one job may depend on. */
    static final int MAX_DEPENDENCIES = 1000;
    /** A rate limit's starts per second and burst at most. */
    static final double MAX_RATE = 100_000;
    static final int MAX_BURST = 100_000;
    /** Owners with a weight in one type's fair share, and the largest weight. */
    static final int MAX_FAIR_WEIGHTS = 1000;
    static final int MAX_FAIR_WEIGHT = 1000;
    static final int MAX_CONCURRENCY_LIMIT = 10_000;
    static final Duration MAX_RUN_TIMEOUT = Duration.ofHours(24);
    static final Duration MAX_DELAY = Duration.ofDays(366);
    static final Duration MAX_RETRY_INITIAL = Duration.ofHours(24);
    static final Duration MAX_RETRY_DELAY = Duration.ofDays(7);
    static final int MAX_LABELS = 64;
    static final int MAX_LABEL_VALUE = 256;
    static final int MAX_IDEMPOTENCY_KEY = 256;
    static final int MAX_BATCH = 1000;
    static final int MAX_PAGE_SIZE = 1000;
    static final int DEFAULT_PAGE_SIZE = 100;
    static final int MAX_WATCH_IDS = 1000;
    static final int DEFAULT_SNAPSHOT = 100;
    static final int MAX_SNAPSHOT = 1000;
    static final int MAX_REASON = 1024;
    static final int MAX_ERROR = 64 * 1024;
    static final int MAX_PROGRESS_MESSAGE = 1024;
    static final int MAX_PROGRESS_DETAILS = 64 * 1024;
    static final int MAX_DESCRIPTION = 4096;
    static final int MAX_SCHEMA_BYTES = 64 * 1024;
    static final int MAX_DOCUMENTATION = 64 * 1024;
    static final int MAX_USES = 64;
    static final int MAX_CONCURRENCY = 10_000;
    static final int MAX_CREDIT = 10_000;
    static final int MAX_WORKER_ID = 128;
}
