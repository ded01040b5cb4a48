package io.jobwire.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Holds one process to a number of CPUs, as a container's CPU limit does: a cgroup of its own with a CFS
 * quota (the cgroup v1 cpu controller, or cgroup v2's cpu.max). The process joins the cgroup before it
 * runs (see {@link #wrap}), so a JVM sees its limit as it would in a container. Needs root.
 */
final class CpuLimit implements AutoCloseable {
    private static final long PERIOD_MICROS = 100_000;
    private static final Path V1 = Path.of("/sys/fs/cgroup/cpu");
    private static final Path V2 = Path.of("/sys/fs/cgroup");

    private final Path dir;
    private final double cpus;

    private CpuLimit(Path dir, double cpus) {
        this.dir = dir;
        this.cpus = cpus;
    }

    /** The CPUs allowed. */
    double cpus() {
        return cpus;
    }

    /** A new cgroup allowing {@code cpus} CPUs (e.g. 0.25: a quarter of one core's time). */
    static CpuLimit create(double cpus) {
        if (!(cpus > 0)) {
            throw new IllegalArgumentException("a CPU limit must be positive: " + cpus);
        }
        long quota = Math.max(1_000, Math.round(cpus * PERIOD_MICROS));
        String name = "jobwire-bench-" + UUID.randomUUID().toString().substring(0, 8);
        try {
            if (Files.isRegularFile(V1.resolve("cpu.cfs_quota_us"))) {
                Path dir = Files.createDirectory(V1.resolve(name));
                Files.writeString(dir.resolve("cpu.cfs_period_us"), Long.toString(PERIOD_MICROS));
                Files.writeString(dir.resolve("cpu.cfs_quota_us"), Long.toString(quota));
                return new CpuLimit(dir, cpus);
            }
            Path controllers = V2.resolve("cgroup.controllers");
            if (Files.isRegularFile(controllers) && List.of(Files.readString(controllers).trim().split("\\s+")).contains("cpu")) {
                Files.writeString(V2.resolve("cgroup.subtree_control"), "+cpu");
                Path dir = Files.createDirectory(V2.resolve(name));
                Files.writeString(dir.resolve("cpu.max"), quota + " " + PERIOD_MICROS);
                return new CpuLimit(dir, cpus);
            }
            throw new IllegalStateException("--broker-cpus needs the cgroup cpu controller (neither " + V1
                    + " nor cgroup v2's cpu is available here)");
        } catch (IOException | SecurityException e) {
            throw new IllegalStateException("--broker-cpus needs root and a writable cgroup cpu controller: " + e, e);
        }
    }

    /** The command, joining this cgroup first: sh writes its pid into it, then execs the command in its place. */
    List<String> wrap(List<String> command) {
        List<String> wrapped = new ArrayList<>(List.of("/bin/sh", "-c",
                "echo $$ > '" + dir.resolve("cgroup.procs") + "' && exec \"$0\" \"$@\""));
        wrapped.addAll(command);
        return wrapped;
    }

    /** The cgroup's directory. */
    Path dir() {
        return dir;
    }

    /** CPU time the quota withheld so far, in ms (cgroup v1: throttled_time; v2: throttled_usec). */
    double throttledMs() {
        try {
            for (String line : Files.readAllLines(dir.resolve("cpu.stat"), StandardCharsets.UTF_8)) {
                String[] fields = line.trim().split("\\s+");
                if (fields.length == 2 && fields[0].equals("throttled_time")) {
                    return Long.parseLong(fields[1]) / 1e6;
                }
                if (fields.length == 2 && fields[0].equals("throttled_usec")) {
                    return Long.parseLong(fields[1]) / 1e3;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not readable: report none
        }
        return 0;
    }

    /** Removes the cgroup; the process in it must have ended (a few tries while the kernel lets it go). */
    @Override
    public void close() throws InterruptedException {
        for (int attempt = 0; attempt < 50; attempt++) {
            try {
                Files.deleteIfExists(dir);
                return;
            } catch (IOException busy) {
                Thread.sleep(100);
            }
        }
    }
}
