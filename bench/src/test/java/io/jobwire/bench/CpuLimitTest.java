package io.jobwire.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** A process under {@code --broker-cpus} gets no more CPU than its limit, and the limit's cgroup goes with it. */
class CpuLimitTest {
    @Test
    void aBusyProcessGetsNoMoreThanItsLimit() throws Exception {
        CpuLimit limit;
        try {
            limit = CpuLimit.create(0.2);
        } catch (IllegalStateException unavailable) {
            Assumptions.abort("no writable cgroup cpu controller here (--broker-cpus needs root): " + unavailable.getMessage());
            return;
        }
        Process busy = new ProcessBuilder(limit.wrap(List.of("/bin/sh", "-c", "while :; do :; done")))
                .redirectErrorStream(true).start();
        try {
            if (busy.waitFor(200, TimeUnit.MILLISECONDS)) {
                // the shell could not join the cgroup (a machine that lets one be made but not entered)
                String why = new String(busy.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                Assumptions.abort("a process cannot join a cgroup here: " + why.trim());
            }
            long start = System.nanoTime();
            TimeUnit.SECONDS.sleep(2); // twenty of the quota's 100 ms periods
            double wallSeconds = (System.nanoTime() - start) / 1e9;
            double cpuSeconds = CpuMeter.seconds(busy.pid());
            assertThat(cpuSeconds).as("CPU seconds used in %.1f s at a limit of 0.2 CPU", wallSeconds)
                    .isGreaterThan(0.0).isLessThan(0.3 * wallSeconds + 0.1);
            assertThat(limit.throttledMs()).as("CPU time the limit withheld").isGreaterThan(0.0);
        } finally {
            busy.destroyForcibly().waitFor();
            limit.close();
        }
        assertThat(limit.dir()).as("the cgroup, removed once its process ended").doesNotExist();
    }
}
