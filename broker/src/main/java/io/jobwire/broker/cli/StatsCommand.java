package io.jobwire.broker.cli;

import io.grpc.ManagedChannel;
import io.jobwire.api.v1.ListJobTypesRequest;
import io.jobwire.api.v1.ListJobTypesResponse;
import io.jobwire.api.v1.QueueStats;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.StatsResponse;
import io.jobwire.api.v1.WorkerInfo;
import java.time.Instant;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jobwire stats} and {@code jobwire types}. */
final class StatsCommand {
    private StatsCommand() {
    }

    @Command(name = "stats", mixinStandardHelpOptions = true,
            description = "Jobs per type and queue by state, runs and errors, and the connected workers.")
    static final class Stats extends ClientCommand {
        @Option(names = "--type", description = "Only this type.")
        String type = "";

        @Option(names = "--queue", description = "Only this queue.")
        String queue = "";

        @Option(names = "--json", description = "Print the raw answer as JSON.")
        boolean json;

        @Override
        int run(ManagedChannel channel) {
            StatsResponse stats = jobs(channel).stats(StatsRequest.newBuilder().setType(type).setQueue(queue).build());
            if (json) {
                out().println(JobJson.pretty(stats));
                out().flush();
                return ExitCodes.OK;
            }
            Table queues = new Table("TYPE", "QUEUE", "QUEUED", "SCHEDULED", "RUNNING", "SUCCEEDED", "FAILED",
                    "CANCELLED", "HELD", "WAITING", "RUNS", "ERRORS", "OLDEST WAIT");
            for (QueueStats row : stats.getQueuesList()) {
                queues.row(row.getType(), row.getQueue(), row.getQueued(), row.getScheduled(), row.getRunning(),
                        row.getSucceeded(), row.getFailed(), row.getCancelled(), row.getHeld(), row.getWaiting(), row.getAttempts(),
                        row.getAttemptErrors(), row.getOldestQueuedAge().getSeconds() + "s");
            }
            queues.print(out());
            out().println();
            Table workers = new Table("WORKER", "BROKER", "TYPES", "IN FLIGHT", "FREE", "MAX", "CONNECTED");
            for (WorkerInfo worker : stats.getWorkersList()) {
                workers.row(worker.getWorkerId(), worker.getBrokerId(), String.join(",", worker.getJobTypesList()),
                        worker.getInFlight(), worker.getFreeCapacity(), worker.getMaxConcurrency(),
                        Instant.ofEpochSecond(worker.getConnectedAt().getSeconds()));
            }
            workers.print(out());
            return ExitCodes.OK;
        }
    }
}
