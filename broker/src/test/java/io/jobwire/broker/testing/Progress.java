package io.jobwire.broker.testing;

import static org.assertj.core.api.Assertions.fail;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Waits on progress, not on wall-clock guesses: a count must reach its target, and the wait fails only
 * when the count stops moving for a while. A slow or busy machine takes longer; only a stuck one fails.
 */
public final class Progress {
    /** How long a count may stand still before the wait gives up. */
    public static final Duration STALL = Duration.ofSeconds(60);

    private Progress() {
    }

    /** Waits until {@code count} reaches {@code target}, failing when it does not move for {@link #STALL}. */
    public static void awaitCount(String what, LongSupplier count, long target) {
        awaitCount(what, count, target, STALL);
    }

    public static void awaitCount(String what, LongSupplier count, long target, Duration stall) {
        long last = count.getAsLong();
        long lastMoved = System.nanoTime();
        while (last < target) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted while waiting for " + what);
            }
            long now = count.getAsLong();
            if (now != last) {
                last = now;
                lastMoved = System.nanoTime();
            } else if (System.nanoTime() - lastMoved > stall.toNanos()) {
                fail(what + ": stuck at " + now + " of " + target + " for " + stall.toSeconds() + " s");
            }
        }
    }
}
