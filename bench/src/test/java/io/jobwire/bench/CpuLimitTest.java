package io.jobwire.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** A process under {@code --broker-cpus} gets no more CPU than its limit, and the limit's cgroup goes with it. */
class CpuLimitTest {
    @Test
    void aBusyProcessGetsNoMoreThanItsLimit() throws Exception {
        Assumptions.assumeTrue(Files.isWritable(Path.of("/sys/fs/cgroup/cpu")) || Files.isWritable(Path.of("/sys/fs/cgroup")),
                "no writable cgroup hierarchy here (the bench's --broker-cpus needs root)");
        CpuLimit limit;
        try {
            limit = CpuLimit.create(0.2);
        } catch (IllegalStateException unavailable) {
            Assumptions.abort("no cgroup cpu controller here: " + unavailable.getMessage());
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
            // Until the process has been busy for two seconds of wall clock (the quota is per 100 ms period)
            while (System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2)) {
                TimeUnit.MILLISECONDS.sleep(50);
            }
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
