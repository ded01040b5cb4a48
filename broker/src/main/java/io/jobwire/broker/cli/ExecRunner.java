package io.jobwire.broker.cli;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs one job as a shell command, the way {@code jobwire work --exec} promises: the payload on standard
 * input, {@code JOBWIRE_JOB_ID} / {@code JOBWIRE_ATTEMPT} / {@code JOBWIRE_JOB_TYPE} in the environment,
 * standard output as the result, and {@code PROGRESS <percent> <message>} lines on standard error as
 * progress. Other standard error lines are echoed (prefixed with the job id) and the last ones kept for
 * the failure message.
 */
final class ExecRunner {
    private static final Pattern PROGRESS = Pattern.compile("PROGRESS\\s+(\\d+(?:\\.\\d+)?)\\s*(.*)");
    private static final int TAIL_LINES = 20;
    private static final int TAIL_CHARS = 4000;
    private static final long STOP_GRACE_SECONDS = 5;

    /** Where progress lines go. */
    @FunctionalInterface
    interface ProgressSink {
        void progress(float percent, String message);
    }

    /** How the command ended: its exit code, its standard output and the tail of its standard error. */
    record Outcome(int exitCode, String stdout, String stderrTail) {
    }

    private final String command;
    private final long maxOutputBytes;
    private final PrintStream echo;

    ExecRunner(String command, long maxOutputBytes, PrintStream echo) {
        this.command = command;
        this.maxOutputBytes = maxOutputBytes;
        this.echo = echo;
    }

    /**
     * Runs the command to its end. If the calling thread is interrupted (the job was cancelled or its
     * lease lost), the process is stopped (SIGTERM, then SIGKILL after a grace period) and
     * InterruptedException is thrown.
     */
    Outcome run(Map<String, String> environment, String payload, String jobId, ProgressSink progress)
            throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder("/bin/sh", "-c", command);
        builder.environment().putAll(environment);
        Process process = builder.start();
        try {
            Thread stdin = daemon("jobwire-exec-stdin", () -> writeAndClose(process.getOutputStream(), payload));
            Deque<String> tail = new ArrayDeque<>();
            Thread stderr = daemon("jobwire-exec-stderr", () -> readErrors(process.getErrorStream(), jobId, progress, tail));
            ByteArrayOutputStream stdout = new ByteArrayOutputStream();
            Thread stdoutReader = daemon("jobwire-exec-stdout", () -> readCapped(process.getInputStream(), stdout));
            int exit = process.waitFor();
            stdoutReader.join();
            stderr.join();
            stdin.join();
            String out = stdout.size() > maxOutputBytes ? null : stdout.toString(StandardCharsets.UTF_8);
            if (out == null) {
                return new Outcome(exit == 0 ? 1 : exit, "", "standard output was larger than " + maxOutputBytes + " bytes");
            }
            synchronized (tail) {
                return new Outcome(exit, out, String.join("\n", tail));
            }
        } catch (InterruptedException e) {
            stop(process);
            throw e;
        }
    }

    private static void stop(Process process) {
        process.destroy();
        try {
            if (!process.waitFor(STOP_GRACE_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException again) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static void writeAndClose(OutputStream stdin, String payload) {
        try (stdin) {
            stdin.write(payload.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // the command closed its input early: it did not want the payload
        }
    }

    private void readCapped(InputStream in, ByteArrayOutputStream into) {
        byte[] buffer = new byte[8192];
        try (in) {
            int read;
            while ((read = in.read(buffer)) >= 0) {
                if (into.size() <= maxOutputBytes) {
                    into.write(buffer, 0, read);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void readErrors(InputStream in, String jobId, ProgressSink progress, Deque<String> tail) {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                Matcher matcher = PROGRESS.matcher(line.trim());
                if (matcher.matches()) {
                    float percent = Math.min(100f, Float.parseFloat(matcher.group(1)));
                    progress.progress(percent, matcher.group(2));
                    continue;
                }
                echo.println("[job " + jobId + "] " + line);
                synchronized (tail) {
                    tail.addLast(line);
                    while (tail.size() > TAIL_LINES || String.join("\n", tail).length() > TAIL_CHARS && tail.size() > 1) {
                        tail.removeFirst();
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Thread daemon(String name, Runnable body) {
        Thread thread = new Thread(body, name);
        thread.setDaemon(true);
        thread.start();
        return thread;
    }
}
