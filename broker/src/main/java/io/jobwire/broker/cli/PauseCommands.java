package io.jobwire.broker.cli;

import io.grpc.ManagedChannel;
import io.jobwire.api.v1.ListPausedRequest;
import io.jobwire.api.v1.PauseRequest;
import io.jobwire.api.v1.Paused;
import io.jobwire.api.v1.ResumeRequest;
import java.time.Instant;
import java.util.List;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jobwire pause}, {@code jobwire resume} and {@code jobwire paused}: queues and types that are not claimed. */
final class PauseCommands {
    private PauseCommands() {
    }

    /** A queue or a type: exactly one. */
    static final class Target {
        @Option(names = "--queue", paramLabel = "QUEUE", required = true, description = "A queue.")
        String queue;

        @Option(names = "--type", paramLabel = "TYPE", required = true, description = "A job type.")
        String type;

        String describe() {
            return queue != null ? "queue " + queue : "type " + type;
        }

        PauseRequest.Builder pause() {
            return queue != null ? PauseRequest.newBuilder().setQueue(queue) : PauseRequest.newBuilder().setType(type);
        }

        ResumeRequest resume() {
            return queue != null ? ResumeRequest.newBuilder().setQueue(queue).build()
                    : ResumeRequest.newBuilder().setType(type).build();
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true,
            description = "Pauses a queue or a job type (admin): no broker claims its jobs until `jobwire resume`. "
                    + "Submits are still taken and running jobs run on.")
    static final class Pause extends ClientCommand {
        @ArgGroup(exclusive = true, multiplicity = "1")
        Target target;

        @Option(names = "--reason", description = "Why, shown by `jobwire paused` and the dashboard.")
        String reason = "";

        @Override
        int run(ManagedChannel channel) {
            Paused paused = jobs(channel).pause(target.pause().setReason(reason).build());
            out().println(target.describe() + " paused since " + instant(paused) + " by " + paused.getPausedBy()
                    + (paused.getReason().isEmpty() ? "" : ": " + paused.getReason()));
            out().flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true,
            description = "Resumes a paused queue or job type (admin): its jobs are claimed again at once.")
    static final class Resume extends ClientCommand {
        @ArgGroup(exclusive = true, multiplicity = "1")
        Target target;

        @Override
        int run(ManagedChannel channel) {
            boolean was = jobs(channel).resume(target.resume()).getWasPaused();
            out().println(target.describe() + (was ? " resumed" : " was not paused"));
            out().flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "paused", mixinStandardHelpOptions = true,
            description = "The queues and job types paused now, oldest pause first.")
    static final class Listing extends ClientCommand {
        @Option(names = "--json", description = "One JSON object per pause and line.")
        boolean json;

        @Override
        int run(ManagedChannel channel) {
            List<Paused> paused = jobs(channel).listPaused(ListPausedRequest.getDefaultInstance()).getPausedList();
            if (json) {
                paused.forEach(p -> out().println(JobJson.compact(p)));
                out().flush();
                return ExitCodes.OK;
            }
            Table table = new Table("QUEUE", "TYPE", "SINCE", "BY", "REASON");
            for (Paused p : paused) {
                table.row(p.hasQueue() ? p.getQueue() : "-", p.hasType() ? p.getType() : "-", instant(p),
                        p.getPausedBy(), p.getReason());
            }
            table.print(out());
            return ExitCodes.OK;
        }
    }

    private static String instant(Paused paused) {
        return Instant.ofEpochSecond(paused.getPausedAt().getSeconds(), paused.getPausedAt().getNanos()).toString();
    }
}
