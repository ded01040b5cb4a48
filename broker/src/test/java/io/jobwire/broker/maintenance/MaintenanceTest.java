package io.jobwire.broker.maintenance;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The passes' one shape: a broker's own run on every interval, a shared one only on the turns it gets. */
class MaintenanceTest {
    @Test
    void aSharedPassRunsOnTheTurnsThisBrokerGetsAndItsOwnOnEveryInterval() {
        AtomicInteger asked = new AtomicInteger();
        AtomicInteger shared = new AtomicInteger();
        AtomicInteger own = new AtomicInteger();
        // Every other turn goes to this broker.
        Maintenance maintenance = new Maintenance(1, (pass, interval) -> {
            assertThat(pass).isEqualTo("shared");
            return asked.incrementAndGet() % 2 == 0;
        });
        maintenance.shared("shared", Duration.ofMillis(5), shared::incrementAndGet)
                .every("own", Duration.ofMillis(5), own::incrementAndGet)
                .start();
        await().atMost(scaled(Duration.ofSeconds(30))).until(() -> asked.get() >= 10 && own.get() >= 10);
        maintenance.close();

        assertThat(shared.get()).as("runs of the shared pass, of %d turns asked for", asked.get())
                .isEqualTo(asked.get() / 2);
        int before = asked.get();
        maintenance.runNow("shared");
        assertThat(shared.get()).as("runNow runs it, turn or not").isEqualTo(before / 2 + 1);
        assertThat(asked.get()).isEqualTo(before);
    }
}
