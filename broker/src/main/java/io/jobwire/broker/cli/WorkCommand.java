package io.jobwire.broker.cli;

import io.jobwire.worker.JobContext;
import io.jobwire.worker.JobType;
import io.jobwire.worker.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jobwire work}: turns any command into a worker. */
@Command(name = "work", mixinStandardHelpOptions = true,
        description = {"Run a worker that executes COMMAND (with /bin/sh -c) for each job of the given types.",
                "The payload arrives on standard input; JOBWIRE_JOB_ID, JOBWIRE_ATTEMPT and JOBWIRE_JOB_TYPE are "
                        + "set. Standard output becomes the result (JSON if it parses, else a JSON string). A line "
                        + "'PROGRESS <percent> <message>' on standard error reports progress. A non-zero exit "
                        + "fails the job (retried with backoff) with the tail of standard error.",
                "Runs until SIGTERM or Ctrl-C, then lets running jobs finish for --drain-timeout and gives the "
                        + "rest back."})
final class WorkCommand implements Callable<Integer> {
    @Mixin
    ClientOptions client;

    @Spec
    CommandSpec spec;

    @Option(names = "--type", required = true, description = "A job type to run; repeat for more.")
    List<String> types = new ArrayList<>();

    @Option(names = "--exec", required = true, paramLabel = "COMMAND", description = "The command to run for each job.")
    String command;

    @Option(names = "--concurrency", defaultValue = "1", description = "Jobs run at once (default: 1).")
    int concurrency;

    @Option(names = "--queue", description = "Take jobs only from this queue; repeat for more (default: all).")
    List<String> queues = new ArrayList<>();

    @Option(names = "--worker-id", description = "This worker's name in Stats (default: pid@host).")
    String workerId;

    @Option(names = "--description", description = "Description of the job type(s), shown by 'jobwire types'.")
    String description = "";

    @Option(names = "--max-output-bytes", defaultValue = "1048576",
            description = "Largest standard output accepted as a result (default: 1 MiB).")
    long maxOutputBytes;

    @Option(names = "--drain-timeout", defaultValue = "30s",
            description = "At shutdown, how long running jobs may finish before they are given back (default: 30s).")
    Duration drainTimeout;

    @Override
    public Integer call() throws InterruptedException {
        ExecRunner runner = new ExecRunner(command, maxOutputBytes, System.err);
        Worker.Builder builder = Worker.builder().targets(List.of(client.target.split(","))).concurrency(concurrency)
                .queues(queues.toArray(String[]::new));
        if (workerId != null) {
            builder.workerId(workerId);
        }
        if (client.token() != null) {
            builder.token(client.token());
        }
        if (client.caFile != null) {
            builder.tls(client.caFile);
        }
        if (client.cert != null || client.key != null) {
            builder.clientCertificate(client.cert, client.key);
        }
        for (String type : types) {
            builder.handle(JobType.of(type).description(description.isEmpty() ? "runs: " + command : description),
                    job -> run(runner, job));
        }
        Worker worker;
        try {
            worker = builder.start();
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("jobwire work: " + e.getMessage());
            return ExitCodes.USAGE;
        }
        spec.commandLine().getErr().println("jobwire work: running '" + command + "' for " + String.join(", ", types)
                + " from " + client.target + " (" + concurrency + " at a time)");
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            worker.shutdown(drainTimeout);
            stopped.countDown();
        }, "jobwire-work-shutdown"));
        stopped.await();
        return ExitCodes.OK;
    }

    private static Object run(ExecRunner runner, JobContext job) throws Exception {
        Map<String, String> environment = Map.of(
                "JOBWIRE_JOB_ID", job.id(),
                "JOBWIRE_ATTEMPT", Integer.toString(job.attempt()),
                "JOBWIRE_JOB_TYPE", job.type());
        ExecRunner.Outcome outcome = runner.run(environment, job.payload(), job.id(), job::progress);
        if (outcome.exitCode() != 0) {
            throw new CommandFailedException("exit " + outcome.exitCode()
                    + (outcome.stderrTail().isEmpty() ? "" : ": " + outcome.stderrTail()));
        }
        String result = outcome.stdout().strip();
        return result.isEmpty() ? null : result;
    }

    /** The command exited non-zero: a retryable failure whose message is what it printed. */
    static final class CommandFailedException extends Exception {
        private static final long serialVersionUID = 1L;

        CommandFailedException(String message) {
            super(message);
        }

        @Override
        public synchronized Throwable fillInStackTrace() {
            return this; // the message says it all; a Java stack trace would only bury it
        }
    }
}
