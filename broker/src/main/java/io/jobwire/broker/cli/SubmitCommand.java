package io.jobwire.broker.cli;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.grpc.Deadline;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jobwire.api.v1.Callback;
import io.jobwire.api.v1.CallbackEvents;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.ListJobTypesRequest;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.SubmitBatchResponse;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.SubmitResponse;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.client.JobwireClient;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jobwire submit}: creates a job, and with {@code --wait} follows it to its end. */
@Command(name = "submit", mixinStandardHelpOptions = true,
        description = {"Submit a job and print it as JSON (with \"created\": false when its --key matched an "
                + "existing job, which is printed instead).",
                "With --wait, follow it to its end: a progress bar on a terminal (plain lines otherwise) on "
                        + "standard error, then the result JSON on standard output. Exit code 0 when it "
                        + "succeeded, 1 when it failed, 2 when it was cancelled, 3 on a broker error or when "
                        + "an explicit --timeout ran out first.",
                "With --batch, submit many jobs: one JSON object per line (the fields of JobSpec: type, payload, "
                        + "queue, priority, labels, idempotencyKey, delay, runAt, maxAttempts, ...), sent "
                        + "1000 to a SubmitBatch; prints one JSON line per job."})
final class SubmitCommand extends ClientCommand {
    private static final int WATCH_RETRIES = 5;
    /** SubmitBatch takes at most this many jobs. */
    private static final int MAX_BATCH = 1000;

    @Option(names = "--type", description = "The job type, e.g. email.send (required unless --batch).")
    String type;

    @Option(names = "--batch", paramLabel = "FILE|-",
            description = "Submit the jobs in FILE (or standard input): one JSON JobSpec per line.")
    String batch;

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

    @Option(names = "--run-timeout", paramLabel = "DURATION",
            description = "The longest one attempt may run, heartbeats or not, e.g. 30s: past it the worker is told "
                    + "to stop and the attempt fails as timed out (default: the type's, else none). "
                    + "--timeout is this call's deadline.")
    java.time.Duration runTimeout;

    @Option(names = "--depends-on", split = ",", paramLabel = "ID[,ID...]",
            description = "Jobs this one waits for: it is WAITING until they all succeeded, then queued; cancelled "
                    + "when one fails or is cancelled, unless --run-on-failure.")
    List<String> dependsOn = List.of();

    @Option(names = "--run-on-failure",
            description = "With --depends-on: run once they have all finished, even if one failed or was cancelled.")
    boolean runOnFailure;

    @Option(names = "--rate-key", paramLabel = "KEY",
            description = "Jobs of this key start at most as often as its rate limit allows (jobwire rate-limit set), "
                    + "across every broker, e.g. stripe-api.")
    String rateKey = "";

    @Option(names = "--concurrency-key", paramLabel = "KEY",
            description = "At most --concurrency-limit jobs of this key run at once, across every broker, e.g. export:customer-42.")
    String concurrencyKey = "";

    @Option(names = "--concurrency-limit", paramLabel = "N", description = "Jobs of the key that may run at once (default: 1).")
    int concurrencyLimit;

    @Option(names = "--concurrency-strategy", paramLabel = "queue|cancel-newest|cancel-in-progress",
            converter = StrategyConverter.class,
            description = "At the key's limit: wait for a slot (queue, default), cancel this job (cancel-newest), or "
                    + "cancel the oldest running to make room (cancel-in-progress).")
    io.jobwire.api.v1.ConcurrencyStrategy concurrencyStrategy;

    /** The strategies by their command-line names. */
    static final class StrategyConverter implements picocli.CommandLine.ITypeConverter<io.jobwire.api.v1.ConcurrencyStrategy> {
        @Override
        public io.jobwire.api.v1.ConcurrencyStrategy convert(String value) {
            return switch (value) {
                case "queue" -> io.jobwire.api.v1.ConcurrencyStrategy.CONCURRENCY_STRATEGY_QUEUE;
                case "cancel-newest" -> io.jobwire.api.v1.ConcurrencyStrategy.CONCURRENCY_STRATEGY_CANCEL_NEWEST;
                case "cancel-in-progress" -> io.jobwire.api.v1.ConcurrencyStrategy.CONCURRENCY_STRATEGY_CANCEL_IN_PROGRESS;
                default -> throw new picocli.CommandLine.TypeConversionException(
                        "queue, cancel-newest or cancel-in-progress, got " + value);
            };
        }
    }

    @Option(names = "--label", paramLabel = "KEY=VALUE", description = "A label; repeat for more.")
    Map<String, String> labels = new LinkedHashMap<>();

    @Option(names = "--owner", description = "Owner of the job (default: the caller).")
    String owner = "";

    @Option(names = "--callback", paramLabel = "URL",
            description = "POST the job (signed, Standard Webhooks) to this https URL when it finishes.")
    String callback;

    @Option(names = "--callback-events", paramLabel = "final|all",
            description = "final (default): the final state only; all: every change of state.")
    String callbackEvents;

    @Option(names = "--wait", description = "Wait for the job to finish and print its result.")
    boolean await;

    @Option(names = {"-q", "--quiet"}, description = "Print only the job's id (for scripts: ID=$(jobwire submit ... -q)); with --batch, one id per line.")
    boolean quiet;

    @Override
    int run(ManagedChannel channel) {
        if (batch != null) {
            if (type != null || await) {
                throw new IllegalArgumentException("--batch takes each job's type from its line; it goes without "
                        + "--type and --wait");
            }
            return submitBatch(channel, JobJson.specsPerLine(Inputs.fileOrStdin("--batch", batch)));
        }
        if (type == null) {
            throw new IllegalArgumentException("--type is required (or --batch FILE)");
        }
        SubmitResponse response = jobs(channel).submit(SubmitRequest.newBuilder().setJob(spec()).build());
        Job job = response.getJob();
        if (!response.getCreated()) {
            err().println("jobwire submit: job " + job.getId() + " already has the key \"" + key
                    + "\"; nothing new was created (\"created\": false)");
        }
        if (!await) {
            out().println(quiet ? job.getId() : JobJson.write(JobJson.withCreated(job, response.getCreated()), true));
            out().flush();
            return ExitCodes.OK;
        }
        warnIfNoWorkerServes(channel);
        java.time.Duration deadline = timeoutGiven() ? client.timeout : null;
        Job finished;
        try {
            finished = follow(channel, job.getId(), deadline);
        } catch (StatusRuntimeException e) {
            if (deadline == null || e.getStatus().getCode() != Status.Code.DEADLINE_EXCEEDED) {
                throw e;
            }
            Job now = jobs(channel).get(GetRequest.newBuilder().setId(job.getId()).build());
            err().println("jobwire submit: job " + job.getId() + " did not finish within --timeout "
                    + DurationConverter.format(deadline) + " (it is " + JobStates.name(now.getState()) + ")");
            return ExitCodes.BROKER_ERROR;
        }
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

    /** Whether --timeout was given on the command line (with --wait it bounds the whole wait). */
    private boolean timeoutGiven() {
        return spec.commandLine().getParseResult().hasMatchedOption("--timeout");
    }

    /** Says at once when no worker has announced the type: the wait may be long. */
    private void warnIfNoWorkerServes(ManagedChannel channel) {
        boolean served = jobs(channel).listJobTypes(ListJobTypesRequest.getDefaultInstance())
                .getJobTypesList().stream()
                .anyMatch(info -> info.getName().equals(type) && info.getWorkersOnline() > 0);
        if (!served) {
            err().println("jobwire submit: no worker serves type " + type + " right now; waiting for one"
                    + (timeoutGiven() ? " for up to " + DurationConverter.format(client.timeout) : " (Ctrl-C to stop, "
                    + "--timeout to give up)"));
            err().flush();
        }
    }

    private int submitBatch(ManagedChannel channel, List<JobSpec> specs) {
        for (int from = 0; from < specs.size(); from += MAX_BATCH) {
            List<JobSpec> chunk = specs.subList(from, Math.min(specs.size(), from + MAX_BATCH));
            SubmitBatchResponse response;
            try {
                response = jobs(channel).submitBatch(SubmitBatchRequest.newBuilder()
                        .addAllJobs(chunk).build());
            } catch (StatusRuntimeException e) {
                if (from > 0) {
                    err().println("jobwire submit: lines 1-" + from + " were submitted; lines " + (from + 1) + "-"
                            + (from + chunk.size()) + " and after were not");
                }
                throw e;
            }
            for (SubmitResponse result : response.getResultsList()) {
                out().println(quiet ? result.getJob().getId()
                        : JobJson.write(JobJson.withCreated(result.getJob(), result.getCreated()), false));
            }
            out().flush();
        }
        return ExitCodes.OK;
    }

    JobSpec spec() {
        JobSpec.Builder spec = JobSpec.newBuilder()
                .setType(type)
                .setQueue(queue)
                .setPayload(JobJson.requireJson("--payload", Inputs.read("--payload", payload)))
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
        if (runTimeout != null) {
            spec.setRunTimeout(duration(runTimeout));
        }
        spec.setConcurrencyKey(concurrencyKey).setConcurrencyLimit(concurrencyLimit).setRateKey(rateKey)
                .addAllDependsOn(dependsOn);
        if (runOnFailure) {
            spec.setOnDependencyFailure(io.jobwire.api.v1.DependencyFailure.DEPENDENCY_FAILURE_RUN);
        }
        if (concurrencyStrategy != null) {
            spec.setConcurrencyStrategy(concurrencyStrategy);
        }
        if (callback != null) {
            spec.setCallback(Callback.newBuilder().setUrl(callback).setEvents(callbackEvents()));
        } else if (callbackEvents != null) {
            throw new IllegalArgumentException("--callback-events goes with --callback URL");
        }
        return spec.build();
    }

    private CallbackEvents callbackEvents() {
        if (callbackEvents == null || callbackEvents.equalsIgnoreCase("final")) {
            return CallbackEvents.CALLBACK_EVENTS_FINAL;
        }
        if (callbackEvents.equalsIgnoreCase("all")) {
            return CallbackEvents.CALLBACK_EVENTS_ALL;
        }
        throw new IllegalArgumentException("--callback-events must be final or all, got '" + callbackEvents + "'");
    }

    private static Duration duration(java.time.Duration value) {
        return Duration.newBuilder().setSeconds(value.getSeconds()).setNanos(value.getNano()).build();
    }

    /**
     * Watches the job until it finishes, showing progress; watches again if the stream breaks. With a
     * deadline, gives up with DEADLINE_EXCEEDED when it passes.
     */
    private Job follow(ManagedChannel channel, String id, java.time.Duration deadline) {
        ProgressDisplay display = new ProgressDisplay(err(), System.console() != null);
        Deadline until = deadline == null ? null
                : Deadline.after(deadline.toMillis(), TimeUnit.MILLISECONDS);
        for (int attempt = 0; ; attempt++) {
            try {
                Iterator<WatchEvent> events = stub(channel).withDeadline(until)
                        .watch(WatchRequest.newBuilder().addIds(id).build());
                Job last = null;
                while (events.hasNext()) {
                    WatchEvent event = events.next();
                    if (event.hasJob()) {
                        last = event.getJob();
                        display.show(last);
                    }
                }
                if (last != null && JobwireClient.isFinished(last)) {
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
            float percent = job.getState() == JobState.JOB_STATE_SUCCEEDED ? 100
                    : job.hasProgress() ? job.getProgress().getPercent() : 0;
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
