package io.jobwire.broker.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs one job as a shell command, the way {@code jobwire work --exec} promises: the payload on standard
 * input, {@code JOBWIRE_JOB_ID} / {@code JOBWIRE_ATTEMPT} / {@code JOBWIRE_JOB_TYPE} in the environment,
 * standard output as the result, {@code PROGRESS <percent> <message>} lines on standard error as progress
 * and {@code PROGRESS-JSON <object>} lines as its structured details. Other standard error lines are
 * echoed (prefixed with the job id) and the last ones kept for the failure message.
 *
 * <p>Each command runs in a process group of its own ({@link ProcessGroup}); a stopped job (cancelled,
 * lease lost, shutdown) stops the whole group: SIGTERM, then SIGKILL after the kill grace.
 */
final class ExecRunner {
    private static final Pattern PROGRESS = Pattern.compile("PROGRESS\\s+(\\d+(?:\\.\\d+)?)\\s*(.*)");
    private static final Pattern PROGRESS_JSON = Pattern.compile("PROGRESS-JSON\\s+(.*)");
    private static final int TAIL_LINES = 20;
    private static final int TAIL_CHARS = 4000;

    /** Where progress lines go. */
    @FunctionalInterface
    interface ProgressSink {
        /** @param details a JSON object, or null for none */
        void progress(float percent, String message, JsonNode details);
    }

    /** How the command ended: its exit code, its standard output and the tail of its standard error. */
    record Outcome(int exitCode, String stdout, String stderrTail) {
    }

    private final String command;
    private final long maxOutputBytes;
    private final Duration killGrace;
    private final PrintStream echo;
    private final ObjectMapper json = new ObjectMapper();
    private final Set<ProcessGroup> running = ConcurrentHashMap.newKeySet();

    ExecRunner(String command, long maxOutputBytes, Duration killGrace, PrintStream echo) {
        this.command = command;
        this.maxOutputBytes = maxOutputBytes;
        this.killGrace = killGrace;
        this.echo = echo;
    }

    /**
     * Runs the command to its end. If the calling thread is interrupted (the job was cancelled or its
     * lease lost), the command's process group is stopped (SIGTERM, then SIGKILL after the kill grace)
     * before InterruptedException is thrown: when this returns, nothing of the command runs any more.
     */
    Outcome run(Map<String, String> environment, String payload, String jobId, ProgressSink progress)
            throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder();
        builder.environment().putAll(environment);
        ProcessGroup group = ProcessGroup.start(builder, List.of("/bin/sh", "-c", command));
        running.add(group);
        Process process = group.process();
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
            String out;
            synchronized (stdout) {
                out = stdout.size() > maxOutputBytes ? null : stdout.toString(StandardCharsets.UTF_8);
            }
            if (out == null) {
                return new Outcome(exit == 0 ? 1 : exit, "", "standard output was larger than " + maxOutputBytes + " bytes");
            }
            synchronized (tail) {
                return new Outcome(exit, out, String.join("\n", tail));
            }
        } catch (InterruptedException e) {
            group.stop(killGrace);
            throw e;
        } finally {
            running.remove(group);
        }
    }

    /** Stops every command still running (at shutdown, after the worker gave up on them). */
    void stopAll() {
        List<Thread> stopping = running.stream()
                .map(group -> daemon("jobwire-exec-stop", () -> group.stop(killGrace)))
                .toList();
        for (Thread thread : stopping) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void writeAndClose(OutputStream stdin, String payload) {
        try (stdin) {
            stdin.write(payload.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // the command closed its input early (or was stopped): it did not want the payload
        }
    }

    private void readCapped(InputStream in, ByteArrayOutputStream into) {
        byte[] buffer = new byte[8192];
        try (in) {
            int read;
            while ((read = in.read(buffer)) >= 0) {
                synchronized (into) {
                    if (into.size() <= maxOutputBytes) {
                        into.write(buffer, 0, read);
                    }
                }
            }
        } catch (IOException e) {
            // The pipe closed under the reader: the process was stopped, or exited and Java closed the
            // stream. What was read is all there is.
        }
    }

    private void readErrors(InputStream in, String jobId, ProgressSink progress, Deque<String> tail) {
        float percent = 0;
        String message = "";
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                String trimmed = line.trim();
                Matcher details = PROGRESS_JSON.matcher(trimmed);
                if (details.matches()) {
                    JsonNode object = jsonObject(details.group(1));
                    if (object != null) {
                        progress.progress(percent, message, object);
                        continue;
                    }
                    line = line + "   (ignored: PROGRESS-JSON takes one JSON object on the line)";
                } else {
                    Matcher matcher = PROGRESS.matcher(trimmed);
                    if (matcher.matches()) {
                        percent = Math.min(100f, Float.parseFloat(matcher.group(1)));
                        message = matcher.group(2);
                        progress.progress(percent, message, null);
                        continue;
                    }
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
            // as in readCapped: the stream ended with the process
        }
    }

    private JsonNode jsonObject(String text) {
        try {
            JsonNode node = json.readTree(text);
            return node != null && node.isObject() ? node : null;
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    private static Thread daemon(String name, Runnable body) {
        Thread thread = new Thread(body, name);
        thread.setDaemon(true);
        thread.start();
        return thread;
    }
}
