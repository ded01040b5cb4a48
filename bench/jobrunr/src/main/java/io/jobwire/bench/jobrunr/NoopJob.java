package io.jobwire.bench.jobrunr;

import java.util.concurrent.atomic.AtomicLong;

/** The benchmark's job: does nothing but count that it ran. */
public final class NoopJob {

    static final AtomicLong RAN = new AtomicLong();

    private NoopJob() {
    }

    public static void run() {
        RAN.incrementAndGet();
    }
}
