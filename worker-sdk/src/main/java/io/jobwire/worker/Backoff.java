package io.jobwire.worker;

import java.time.Duration;
import java.util.function.DoubleSupplier;

/** Reconnect delays: doubling from {@code initial} up to {@code max}, each scaled by a factor in [0.5, 1.5). */
final class Backoff {
    private final Duration initial;
    private final Duration max;
    private final DoubleSupplier random;
    private int failures;

    Backoff(Duration initial, Duration max, DoubleSupplier random) {
        this.initial = initial;
        this.max = max;
        this.random = random;
    }

    Duration next() {
        long base = initial.toMillis() << Math.min(failures, 20);
        failures++;
        long capped = Math.min(max.toMillis(), base);
        return Duration.ofMillis((long) (capped * (0.5 + random.getAsDouble())));
    }

    void reset() {
        failures = 0;
    }
}
