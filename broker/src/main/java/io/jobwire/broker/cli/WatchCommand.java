package io.jobwire.broker.cli;

import io.grpc.ManagedChannel;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchFilter;
import io.jobwire.api.v1.WatchRequest;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jobwire watch}: follows jobs as they change. */
@Command(name = "watch", mixinStandardHelpOptions = true,
        description = {"Follow jobs as they change: by id (ends when they finish) or by --type/--queue/--state "
                + "(runs until interrupted). One line per change, or one JSON object per line with --json."})
final class WatchCommand extends ClientCommand {
    @Parameters(arity = "0..*", paramLabel = "ID", description = "Job ids to follow.")
    List<String> ids = new ArrayList<>();

    @Option(names = "--type", description = "Follow jobs of this type; repeat for more.")
    List<String> types = new ArrayList<>();

    @Option(names = "--queue", description = "Follow jobs in this queue; repeat for more.")
    List<String> queues = new ArrayList<>();

    @Option(names = "--state", converter = JobStates.class, description = "Only changes into this state; repeat for more.")
    List<JobState> states = new ArrayList<>();

    @Option(names = "--json", description = "One JSON object per event and line.")
    boolean json;

    @Override
    int run(ManagedChannel channel) {
        WatchRequest.Builder request = WatchRequest.newBuilder().addAllIds(ids);
        if (ids.isEmpty()) {
            request.setFilter(WatchFilter.newBuilder().addAllTypes(types).addAllQueues(queues).addAllStates(states));
        }
        Iterator<WatchEvent> events = stub(channel).watch(request.build());
        while (events.hasNext()) {
            WatchEvent event = events.next();
            if (json) {
                out().println(JobJson.compact(event));
            } else if (event.hasJob()) {
                out().println(line(event.getJob()));
            }
            out().flush();
        }
        return ExitCodes.OK;
    }

    static String line(Job job) {
        StringBuilder line = new StringBuilder()
                .append(job.getId()).append(' ').append(job.getType()).append(' ').append(JobStates.name(job.getState()))
                .append(" attempt ").append(job.getAttempt());
        if (job.hasProgress()) {
            line.append(String.format(" %.0f%%", job.getProgress().getPercent()));
            if (!job.getProgress().getMessage().isEmpty()) {
                line.append(' ').append(job.getProgress().getMessage());
            }
        }
        if (!job.getResult().isEmpty()) {
            line.append(" result ").append(job.getResult());
        }
        if (job.getState() == JobState.JOB_STATE_FAILED && !job.getLastError().isEmpty()) {
            line.append(" error ").append(job.getLastError().lines().findFirst().orElse(""));
        }
        return line.toString();
    }
}
