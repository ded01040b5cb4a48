package io.jobwire.broker.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A command run in a session (and process group) of its own, so that stopping it stops everything it
 * started: a {@code /bin/sh -c} wrapper's children would otherwise be reparented to init and run on,
 * and a job given back to the queue would run twice at once. Stopping sends SIGTERM to the whole group,
 * waits up to a grace period for every process in it to exit, then sends SIGKILL.
 *
 * <p>Needs {@code setsid} (util-linux, on every Linux distribution) and {@code /proc}; without them the
 * command runs as a plain child and stopping reaches it and its descendants that are still attached.
 */
final class ProcessGroup {
    private static final Path SETSID = List.of(Path.of("/usr/bin/setsid"), Path.of("/bin/setsid")).stream()
            .filter(Files::isExecutable).findFirst().orElse(null);
    private static final Path PROC = Path.of("/proc");
    private static final long POLL_MILLIS = 50;

    private final Process process;
    /** The group's id: the command's pid, as setsid made it a session leader (null: no group of its own). */
    private final Long groupId;

    private ProcessGroup(Process process, Long groupId) {
        this.process = process;
        this.groupId = groupId;
    }

    /** Starts {@code argv} with the builder's settings, in a new session when setsid is available. */
    static ProcessGroup start(ProcessBuilder builder, List<String> argv) throws IOException {
        boolean grouped = SETSID != null && Files.isDirectory(PROC);
        if (grouped) {
            // The JVM's child is not a group leader, so setsid does not fork: its pid is the group's id.
            builder.command(concat(SETSID.toString(), argv));
        } else {
            builder.command(argv);
        }
        Process process = builder.start();
        return new ProcessGroup(process, grouped ? process.pid() : null);
    }

    private static List<String> concat(String first, List<String> rest) {
        java.util.ArrayList<String> all = new java.util.ArrayList<>(rest.size() + 1);
        all.add(first);
        all.addAll(rest);
        return all;
    }

    Process process() {
        return process;
    }

    /**
     * Stops the command and everything in its group: SIGTERM, up to {@code grace} for them to exit, then
     * SIGKILL. Returns once the command itself has exited (or, if even SIGKILL left something behind, a
     * few seconds later).
     */
    void stop(Duration grace) {
        long deadline = System.nanoTime() + grace.toNanos();
        if (groupId == null) {
            process.descendants().forEach(ProcessHandle::destroy);
            process.destroy();
        } else {
            signalGroup("TERM");
        }
        boolean interrupted = false;
        while (anyAlive() && System.nanoTime() - deadline < 0) {
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                interrupted = true; // keep stopping: a half-stopped group is what this class exists to prevent
            }
        }
        if (anyAlive()) {
            if (groupId == null) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            } else {
                signalGroup("KILL");
            }
        }
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            interrupted = true;
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Whether any process of the group is still running (zombies count as gone: they no longer run, and
     * in a container without an init that reaps, an orphan's zombie may stay forever).
     */
    boolean anyAlive() {
        if (groupId == null) {
            return process.isAlive() || process.descendants().anyMatch(ProcessHandle::isAlive);
        }
        try (var pids = Files.newDirectoryStream(PROC, entry -> entry.getFileName().toString().chars()
                .allMatch(Character::isDigit))) {
            for (Path pid : pids) {
                if (runsInGroup(pid.resolve("stat"))) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            return process.isAlive();
        }
    }

    /** /proc/PID/stat is "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses. */
    private boolean runsInGroup(Path stat) {
        try {
            String line = Files.readString(stat);
            String[] fields = line.substring(line.lastIndexOf(')') + 2).split(" ", 4);
            return !fields[0].equals("Z") && !fields[0].equals("X") && Long.parseLong(fields[2]) == groupId;
        } catch (IOException | RuntimeException e) {
            return false; // the process exited while we looked
        }
    }

    private void signalGroup(String signal) {
        try {
            // The shell's kill takes a negative pid for a group; Java can only signal single processes.
            Process kill = new ProcessBuilder("/bin/sh", "-c", "kill -" + signal + " -" + groupId + " 2>/dev/null")
                    .redirectErrorStream(true).start();
            kill.getInputStream().close();
            kill.waitFor(5, TimeUnit.SECONDS);
        } catch (IOException e) {
            process.destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
