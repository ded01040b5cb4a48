package io.jobwire.broker.cli;

import io.grpc.ManagedChannel;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.ListResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jobwire list}: jobs matching a filter, newest first. */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = "List jobs, newest first: a table, or one JSON object per line with --json.")
final class ListCommand extends ClientCommand {
    @Option(names = "--state", converter = JobStates.class, description = "Only jobs in this state; repeat for more.")
    List<JobState> states = new ArrayList<>();

    @Option(names = "--type", description = "Only jobs of this type.")
    String type = "";

    @Option(names = "--queue", description = "Only jobs in this queue.")
    String queue = "";

    @Option(names = "--owner", description = "Only jobs of this owner.")
    String owner = "";

    @Option(names = "--label", paramLabel = "KEY=VALUE", description = "Only jobs with this label; repeat for more.")
    Map<String, String> labels = new LinkedHashMap<>();

    @Option(names = "--payload-contains", paramLabel = "JSON",
            description = "Only jobs whose payload contains this JSON object, e.g. '{\"customer\":\"c-42\"}'.")
    String payloadContains = "";

    @Option(names = "--parent", paramLabel = "ID",
            description = "Only the jobs this job submitted with its job token (its children).")
    String parent = "";

    @Option(names = "--oldest-first", description = "Oldest jobs first (default: newest first).")
    boolean oldestFirst;

    @Option(names = "--limit", defaultValue = "50", description = "At most this many jobs (default: 50).")
    int limit;

    @Option(names = "--json", description = "One JSON object per job and line.")
    boolean json;

    @Override
    int run(ManagedChannel channel) {
        List<Job> found = new ArrayList<>();
        String token = "";
        do {
            ListResponse page = jobs(channel).list(ListRequest.newBuilder()
                    .addAllStates(states).setType(type).setQueue(queue).setOwner(owner).putAllLabels(labels)
                    .setPayloadContains(payloadContains)
                    .setParentId(parent)
                    .setOldestFirst(oldestFirst)
                    .setPageSize(Math.max(1, Math.min(1000, limit - found.size())))
                    .setPageToken(token)
                    .build());
            found.addAll(page.getJobsList());
            token = page.getNextPageToken();
        } while (!token.isEmpty() && found.size() < limit);
        if (json) {
            found.stream().limit(limit).forEach(job -> out().println(JobJson.compact(job)));
        } else {
            Table table = new Table("ID", "TYPE", "QUEUE", "STATE", "ATTEMPT", "PROGRESS", "CREATED");
            found.stream().limit(limit).forEach(job -> table.row(job.getId(), job.getType(), job.getQueue(),
                    JobStates.name(job.getState()), job.getAttempt() + "/" + job.getMaxAttempts(),
                    job.hasProgress() ? String.format("%.0f%% %s", job.getProgress().getPercent(),
                            job.getProgress().getMessage()) : "",
                    Instant.ofEpochSecond(job.getCreatedAt().getSeconds())));
            table.print(out());
        }
        out().flush();
        return ExitCodes.OK;
    }
}
