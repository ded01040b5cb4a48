package io.jobwire.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * CPU time used by the broker process, this benchmark process and all PostgreSQL processes, read from
 * /proc (Linux), so a scenario can say where the CPU went per job. Elsewhere it reports nothing.
 */
final class CpuMeter {
    private static final double TICKS_PER_SECOND = 100.0; // USER_HZ on Linux

    private final long brokerPid;

    CpuMeter(long brokerPid) {
        this.brokerPid = brokerPid;
    }

    record Sample(double broker, double bench, double postgres) {
    }

    Sample sample() {
        return new Sample(seconds(brokerPid), seconds(ProcessHandle.current().pid()), postgresSeconds());
    }

    /** CPU milliseconds per job spent by each process between the two samples. */
    static Map<String, Object> perJob(Sample before, Sample after, long jobs) {
        Map<String, Object> figures = new LinkedHashMap<>();
        if (!Files.isDirectory(Path.of("/proc/self"))) {
            return figures;
        }
        figures.put("cpuMsPerJobBroker", round((after.broker() - before.broker()) * 1000 / jobs));
        figures.put("cpuMsPerJobBench", round((after.bench() - before.bench()) * 1000 / jobs));
        figures.put("cpuMsPerJobPostgres", round((after.postgres() - before.postgres()) * 1000 / jobs));
        return figures;
    }

    /** The cores each process kept busy between the two samples, {@code nanos} apart (CPU seconds per second). */
    static Map<String, Object> coresBusy(Sample before, Sample after, long nanos) {
        Map<String, Object> figures = new LinkedHashMap<>();
        if (!Files.isDirectory(Path.of("/proc/self"))) {
            return figures;
        }
        double seconds = nanos / 1e9;
        figures.put("coresBroker", round((after.broker() - before.broker()) / seconds));
        figures.put("coresBench", round((after.bench() - before.bench()) / seconds));
        figures.put("coresPostgres", round((after.postgres() - before.postgres()) / seconds));
        return figures;
    }

    private static double round(double value) {
        return Math.round(value * 1000) / 1000.0;
    }

    /** CPU seconds used so far by the process, 0 where it cannot be read. */
    static double seconds(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // fields[11] utime, fields[12] stime (the 14th and 15th fields of the whole line)
            return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) / TICKS_PER_SECOND;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** CPU seconds used so far by all running PostgreSQL processes. */
    static double postgresSeconds() {
        try (Stream<Path> processes = Files.list(Path.of("/proc"))) {
            return processes.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
                    .filter(CpuMeter::isPostgres)
                    .mapToDouble(p -> seconds(Long.parseLong(p.getFileName().toString())))
                    .sum();
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    private static boolean isPostgres(Path proc) {
        try {
            return Files.readString(proc.resolve("comm")).trim().equals("postgres");
        } catch (IOException e) {
            return false;
        }
    }
}
