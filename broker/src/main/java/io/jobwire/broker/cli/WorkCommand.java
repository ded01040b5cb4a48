package io.jobwire.broker.cli;

import io.jobwire.worker.JobContext;
import io.jobwire.worker.JobType;
import io.jobwire.worker.RetryLaterException;
import io.jobwire.worker.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jobwire work}: turns any command into a worker. */
@Command(name = "work", mixinStandardHelpOptions = true,
        description = {"Run a worker that executes COMMAND (with /bin/sh -c) for each job of the given types.",
                "The payload arrives on standard input; JOBWIRE_JOB_ID, JOBWIRE_ATTEMPT and JOBWIRE_JOB_TYPE are "
                        + "set, and JOBWIRE_TARGET and JOBWIRE_JOB_TOKEN (also as JOBWIRE_TOKEN): a jobwire command in "
                        + "COMMAND acts as the job's owner while the job runs, and its jobs record it as their parent. Standard output becomes the result (JSON if it parses, else a JSON string). A line "
                        + "'PROGRESS <percent> <message>' on standard error reports progress, and a line "
                        + "'PROGRESS-JSON <object>' its structured details. A non-zero exit fails the job (retried "
                        + "with backoff) with the tail of standard error.",
                "Each command runs in a process group of its own. When its job is cancelled or its lease lost, "
                        + "the whole group gets SIGTERM, then SIGKILL after --kill-grace.",
                "Runs until SIGTERM or Ctrl-C, then lets running jobs finish for --drain-timeout, stops the rest "
                        + "and gives them back. Exits 3 if the broker refuses the worker's token."})
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

    @Option(names = "--kill-grace", defaultValue = "10s",
            description = "After SIGTERM, how long a stopped command's processes get before SIGKILL (default: 10s).")
    Duration killGrace;

    @Override
    public Integer call() throws InterruptedException {
        if (killGrace.isNegative() || drainTimeout.isNegative()) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--kill-grace and --drain-timeout must not be negative");
        }
        ExecRunner runner = new ExecRunner(command, maxOutputBytes, killGrace, System.err);
        Worker.Builder builder = Worker.builder().targets(List.of(client.target.split(","))).concurrency(concurrency)
                .queues(queues.toArray(String[]::new))
                .stopTimeout(killGrace.plusSeconds(5));
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
                    job -> run(runner, job, client.target));
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
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            worker.shutdown(drainTimeout);
            runner.stopAll(); // a command that outlived the worker's stop timeout: no process may outlive us
        }, "jobwire-work-shutdown"));
        try {
            worker.whenStopped().join();
            return ExitCodes.OK;
        } catch (CompletionException e) {
            spec.commandLine().getErr().println("jobwire work: " + e.getCause().getMessage());
            return ExitCodes.BROKER_ERROR;
        }
    }

    /**
     * Runs the command for one job. Its environment names the job, and carries the job token both as
     * JOBWIRE_JOB_TOKEN and as JOBWIRE_TOKEN (so a {@code jobwire} command inside acts as the job's owner,
     * and the worker's own token never reaches the job's process), and the broker as JOBWIRE_TARGET.
     */
    private static Object run(ExecRunner runner, JobContext job, String target) throws Exception {
        Map<String, String> environment = new HashMap<>(Map.of(
                "JOBWIRE_JOB_ID", job.id(),
                "JOBWIRE_ATTEMPT", Integer.toString(job.attempt()),
                "JOBWIRE_JOB_TYPE", job.type(),
                "JOBWIRE_TARGET", target));
        if (!job.jobToken().isEmpty()) {
            environment.put("JOBWIRE_JOB_TOKEN", job.jobToken());
            environment.put("JOBWIRE_TOKEN", job.jobToken());
        }
        ExecRunner.Outcome outcome = runner.run(environment, job.payload(), job.id(),
                (percent, message, details) -> {
                    if (details == null) {
                        job.progress(percent, message);
                    } else {
                        job.progress(percent, message, details);
                    }
                });
        if (outcome.exitCode() != 0) {
            // The command's own words are the error, with no Java class name or stack trace around them.
            throw new RetryLaterException("exit " + outcome.exitCode()
                    + (outcome.stderrTail().isEmpty() ? "" : ": " + outcome.stderrTail()));
        }
        String result = outcome.stdout().strip();
        return result.isEmpty() ? null : result;
    }
}
