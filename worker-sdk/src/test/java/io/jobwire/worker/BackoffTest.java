package io.jobwire.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {
    @Test
    void delaysDoubleUpToTheCapAndScaleWithJitter() {
        Backoff lowest = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5), () -> 0.0);
        assertThat(lowest.next()).isEqualTo(Duration.ofMillis(50));
        assertThat(lowest.next()).isEqualTo(Duration.ofMillis(100));
        assertThat(lowest.next()).isEqualTo(Duration.ofMillis(200));
        for (int i = 0; i < 40; i++) {
            lowest.next();
        }
        assertThat(lowest.next()).as("capped at max, times the jitter factor 0.5").isEqualTo(Duration.ofMillis(2500));

        Backoff highest = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5), () -> 0.999);
        assertThat(highest.next().toMillis()).isEqualTo(149);
    }

    @Test
    void resetStartsOver() {
        Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5), () -> 0.5);
        backoff.next();
        backoff.next();
        assertThat(backoff.next()).isEqualTo(Duration.ofMillis(400));
        backoff.reset();
        assertThat(backoff.next()).isEqualTo(Duration.ofMillis(100));
    }
}
