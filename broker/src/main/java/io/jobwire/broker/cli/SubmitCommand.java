package io.jobwire.broker.cli;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.SubmitResponse;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jobwire submit}: creates a job, and with {@code --wait} follows it to its end. */
@Command(name = "submit", mixinStandardHelpOptions = true,
        description = {"Submit a job and print it as JSON.",
                "With --wait, follow it to its end: a progress bar on a terminal (plain lines otherwise) on "
                        + "standard error, then the result JSON on standard output. Exit code 0 when it "
                        + "succeeded, 1 when it failed, 2 when it was cancelled, 3 on a broker error."})
final class SubmitCommand extends ClientCommand {
    private static final int WATCH_RETRIES = 5;

    @Option(names = "--type", required = true, description = "The job type, e.g. email.send.")
    String type;

    @Option(names = "--payload", defaultValue = "{}", paramLabel = "JSON|@FILE|-",
            description = "The payload: JSON text, @file to read a file, or - for standard input (default: {}).")
    String payload;

    @Option(names = "--queue", description = "Queue (default: default).")
    String queue = "";

    @Option(names = "--priority", description = "Higher runs first, -1000 to 1000 (default: 0).")
    int priority;

    @ArgGroup(exclusive = true)
    Schedule schedule;

    static final class Schedule {
        @Option(names = "--delay", description = "Run after this delay, e.g. 10s, 5m.")
        java.time.Duration delay;

        @Option(names = "--run-at", description = "Run at this time, ISO-8601, e.g. 2026-12-01T09:00:00Z.")
        Instant runAt;
    }

    @Option(names = "--key", description = "Idempotency key: submitting it again returns the same job.")
    String key = "";

    @Option(names = "--max-attempts", description = "Attempts before the job ends FAILED (default: 5).")
    int maxAttempts;

    @Option(names = "--lease", description = "Lease without a heartbeat, e.g. 30s (default: the broker's).")
    java.time.Duration lease;

    @Option(names = "--label", paramLabel = "KEY=VALUE", description = "A label; repeat for more.")
    Map<String, String> labels = new LinkedHashMap<>();

    @Option(names = "--owner", description = "Owner of the job (default: the caller).")
    String owner = "";

    @Option(names = "--wait", description = "Wait for the job to finish and print its result.")
    boolean await;

    @Override
    int run(ManagedChannel channel) throws IOException {
        SubmitResponse response = jobs(channel).submit(SubmitRequest.newBuilder().setJob(spec()).build());
        Job job = response.getJob();
        if (!await) {
            out().println(JobJson.pretty(job));
            out().flush();
            return ExitCodes.OK;
        }
        Job finished = follow(channel, job.getId());
        PrintWriter out = out();
        switch (finished.getState()) {
            case JOB_STATE_SUCCEEDED -> {
                out.println(finished.getResult().isEmpty() ? "null" : JobJson.write(JobJson.tree(finished).get("result"), true));
                out.flush();
                return ExitCodes.OK;
            }
            case JOB_STATE_CANCELLED -> {
                err().println("job " + finished.getId() + " was cancelled" + suffix(finished.getLastError()));
                return ExitCodes.JOB_CANCELLED;
            }
            default -> {
                err().println("job " + finished.getId() + " failed after " + finished.getAttempt() + " attempt(s)"
                        + suffix(finished.getLastError()));
                return ExitCodes.JOB_FAILED;
            }
        }
    }

    private static String suffix(String error) {
        return error.isEmpty() ? "" : ": " + error;
    }

    JobSpec spec() throws IOException {
        JobSpec.Builder spec = JobSpec.newBuilder()
                .setType(type)
                .setQueue(queue)
                .setPayload(readPayload())
                .setPriority(priority)
                .setIdempotencyKey(key)
                .setMaxAttempts(maxAttempts)
                .putAllLabels(labels)
                .setOwner(owner);
        if (schedule != null && schedule.delay != null) {
            spec.setDelay(duration(schedule.delay));
        } else if (schedule != null && schedule.runAt != null) {
            spec.setRunAt(Timestamp.newBuilder().setSeconds(schedule.runAt.getEpochSecond()).setNanos(schedule.runAt.getNano()));
        }
        if (lease != null) {
            spec.setLeaseDuration(duration(lease));
        }
        return spec.build();
    }

    private String readPayload() throws IOException {
        if (payload.equals("-")) {
            return read(System.in);
        }
        if (payload.startsWith("@")) {
            return Files.readString(Path.of(payload.substring(1)), StandardCharsets.UTF_8);
        }
        return payload;
    }

    private static String read(InputStream in) throws IOException {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }

    private static Duration duration(java.time.Duration value) {
        return Duration.newBuilder().setSeconds(value.getSeconds()).setNanos(value.getNano()).build();
    }

    /** Watches the job until it finishes, showing progress; watches again if the stream breaks. */
    private Job follow(ManagedChannel channel, String id) {
        ProgressDisplay display = new ProgressDisplay(err(), System.console() != null);
        for (int attempt = 0; ; attempt++) {
            try {
                Iterator<WatchEvent> events = stub(channel)
                        .watch(WatchRequest.newBuilder().addIds(id).build());
                Job last = null;
                while (events.hasNext()) {
                    WatchEvent event = events.next();
                    if (event.hasJob()) {
                        last = event.getJob();
                        display.show(last);
                    }
                }
                if (last != null && JobStates.isFinished(last)) {
                    display.done();
                    return last;
                }
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || attempt >= WATCH_RETRIES) {
                    display.done();
                    throw e;
                }
                sleep(200L << attempt);
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Shows a job's progress: a bar redrawn in place on a terminal, one line per change otherwise. */
    static final class ProgressDisplay {
        private static final int WIDTH = 30;
        private final PrintWriter err;
        private final boolean terminal;
        private String lastLine = "";

        ProgressDisplay(PrintWriter err, boolean terminal) {
            this.err = err;
            this.terminal = terminal;
        }

        void show(Job job) {
            float percent = job.hasProgress() ? job.getProgress().getPercent() : 0;
            String message = job.hasProgress() ? job.getProgress().getMessage() : "";
            String state = JobStates.name(job.getState());
            String line;
            if (terminal) {
                int filled = Math.round(percent / 100f * WIDTH);
                line = String.format("\r[%s%s] %3.0f%% %-9s %s", "#".repeat(filled), "-".repeat(WIDTH - filled),
                        percent, state, message);
            } else {
                line = String.format("job %s %s %.0f%%%s", job.getId(), state, percent,
                        message.isEmpty() ? "" : " " + message);
            }
            if (!line.equals(lastLine)) {
                if (terminal) {
                    err.print(line + " ".repeat(Math.max(0, lastLine.length() - line.length())));
                } else {
                    err.println(line);
                }
                err.flush();
                lastLine = line;
            }
        }

        void done() {
            if (terminal && !lastLine.isEmpty()) {
                err.println();
                err.flush();
            }
        }
    }
}
