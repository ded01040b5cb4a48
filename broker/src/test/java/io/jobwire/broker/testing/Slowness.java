package io.jobwire.broker.testing;

import java.lang.management.ManagementFactory;
import java.time.Duration;

/**
 * Bounds that scale with how busy the machine is. A test that checks a promise with a time in it ("the
 * job runs again within its lease plus the reaper interval") holds an idle machine to the promise and
 * gives a busy one proportionally more: the bound is multiplied by the run-queue length per core (the
 * one-minute load average divided by the processors), at least 1. {@code JOBWIRE_TEST_SLOWNESS} sets a
 * floor for the factor (a CI machine known to be slow).
 */
public final class Slowness {
    private Slowness() {
    }

    public static double factor() {
        double load = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        double perCore = load < 0 ? 1 : load / Runtime.getRuntime().availableProcessors();
        String floor = System.getenv("JOBWIRE_TEST_SLOWNESS");
        double minimum = floor == null || floor.isBlank() ? 1 : Double.parseDouble(floor);
        return Math.max(minimum, Math.max(1, perCore));
    }

    /** {@code bound} times {@link #factor()}. */
    public static Duration scaled(Duration bound) {
        return Duration.ofNanos((long) (bound.toNanos() * factor()));
    }
}
