package io.jobwire.broker.cli;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.grpc.ManagedChannel;
import io.jobwire.api.v1.CreateScheduleRequest;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.ListSchedulesRequest;
import io.jobwire.api.v1.MissedFires;
import io.jobwire.api.v1.Schedule;
import io.jobwire.api.v1.ScheduleRef;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jobwire schedules}: jobs submitted on a cron expression or a fixed interval. */
@Command(name = "schedules", mixinStandardHelpOptions = true,
        description = "Your schedules (an admin's: every owner's) with their next fires.",
        subcommands = {SchedulesCommand.Create.class, SchedulesCommand.Pause.class, SchedulesCommand.Resume.class,
                SchedulesCommand.Delete.class})
final class SchedulesCommand extends ClientCommand {
    @Option(names = "--owner", description = "Only this owner's (admin).")
    String owner = "";

    @Option(names = "--json", description = "One JSON object per schedule and line.")
    boolean json;

    @Override
    int run(ManagedChannel channel) {
        List<Schedule> schedules = jobs(channel).listSchedules(ListSchedulesRequest.newBuilder().setOwner(owner).build())
                .getSchedulesList();
        if (json) {
            schedules.forEach(schedule -> out().println(JobJson.compact(schedule)));
            out().flush();
            return ExitCodes.OK;
        }
        Table table = new Table("NAME", "OWNER", "WHEN", "TYPE", "NEXT", "LAST", "FIRES", "NOTE");
        for (Schedule s : schedules) {
            table.row(s.getName(), s.getOwner(), when(s), s.getJob().getType(),
                    s.getPaused() ? "paused" : s.getNextFiresCount() == 0 ? "-" : instant(s.getNextFires(0)),
                    s.hasLastFireAt() ? instant(s.getLastFireAt()) + " (job " + s.getLastJobId() + ")" : "-",
                    s.getFires(), s.getLastError());
        }
        table.print(out());
        return ExitCodes.OK;
    }

    static String when(Schedule s) {
        return s.getCron().isEmpty() ? "every " + DurationConverter.format(java.time.Duration.ofSeconds(
                s.getEvery().getSeconds(), s.getEvery().getNanos())) : s.getCron() + " " + s.getZone();
    }

    private static String instant(Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos()).toString();
    }

    static void print(ClientCommand command, Schedule s, String did) {
        command.out().println("schedule " + s.getName() + " (" + when(s) + ", " + s.getJob().getType() + ") " + did);
        if (!s.getPaused() && !did.equals("deleted")) {
            StringBuilder next = new StringBuilder("next fires:");
            s.getNextFiresList().forEach(t -> next.append(' ').append(instant(t)));
            command.out().println(next);
        }
        command.out().flush();
    }

    static final class When {
        @Option(names = "--cron", paramLabel = "EXPR", required = true,
                description = "Five fields, as crontab: minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\".")
        String cron;

        @Option(names = "--every", paramLabel = "DURATION", required = true, converter = DurationConverter.class,
                description = "A fixed interval, at least 1s, e.g. 30s, 15m, 1h.")
        java.time.Duration every;
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Creates a schedule: a job of --type with --payload at every fire of --cron (in --zone) or --every.")
    static final class Create extends ClientCommand {
        @Option(names = "--name", required = true, description = "Unique among your schedules.")
        String name;

        @ArgGroup(exclusive = true, multiplicity = "1")
        When when;

        @Option(names = "--zone", description = "Time zone of --cron, e.g. Europe/Berlin (default: UTC).")
        String zone = "";

        @Option(names = "--type", required = true, description = "The job type each fire submits.")
        String type;

        @Option(names = "--payload", defaultValue = "{}", paramLabel = "JSON|@FILE|-", description = "Its payload (default: {}).")
        String payload;

        @Option(names = "--queue", description = "Queue (default: default).")
        String queue = "";

        @Option(names = "--priority", description = "Higher runs first (default: 0).")
        int priority;

        @Option(names = "--max-attempts", description = "Attempts before a fire's job ends FAILED (default: 5).")
        int maxAttempts;

        @Option(names = "--label", paramLabel = "KEY=VALUE", description = "A label on each job; repeat for more.")
        Map<String, String> labels = new LinkedHashMap<>();

        @Option(names = "--owner", description = "Owner of the schedule and its jobs (admin; default: the caller).")
        String owner = "";

        @Option(names = "--missed", paramLabel = "once|skip|all", defaultValue = "once",
                description = "Fires missed while no broker ran: one job for the latest (once, default), none (skip), "
                        + "or one each, the latest 100 at most (all).")
        String missed;

        @Option(names = "--paused", description = "Create it paused.")
        boolean paused;

        @Override
        int run(ManagedChannel channel) {
            CreateScheduleRequest.Builder request = CreateScheduleRequest.newBuilder()
                    .setName(name)
                    .setJob(JobSpec.newBuilder().setType(type).setQueue(queue)
                            .setPayload(JobJson.requireJson("--payload", Inputs.read("--payload", payload)))
                            .setPriority(priority).setMaxAttempts(maxAttempts).putAllLabels(labels).setOwner(owner))
                    .setMissed(switch (missed.toLowerCase(Locale.ROOT)) {
                        case "once" -> MissedFires.MISSED_FIRES_ONCE;
                        case "skip" -> MissedFires.MISSED_FIRES_SKIP;
                        case "all" -> MissedFires.MISSED_FIRES_ALL;
                        default -> throw new IllegalArgumentException("--missed must be once, skip or all, got '" + missed + "'");
                    })
                    .setPaused(paused);
            if (when.cron != null) {
                request.setCron(when.cron).setZone(zone);
            } else {
                if (!zone.isEmpty()) {
                    throw new IllegalArgumentException("--zone goes with --cron");
                }
                request.setEvery(Duration.newBuilder().setSeconds(when.every.getSeconds()).setNanos(when.every.getNano()));
            }
            print(this, jobs(channel).createSchedule(request.build()), "created");
            return ExitCodes.OK;
        }
    }

    abstract static class OnOne extends ClientCommand {
        @Parameters(paramLabel = "NAME", description = "The schedule's name.")
        String name;

        @Option(names = "--owner", description = "Another owner's schedule (admin).")
        String owner = "";

        ScheduleRef ref() {
            return ScheduleRef.newBuilder().setName(name).setOwner(owner).build();
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true, description = "Stops a schedule's fires until it is resumed.")
    static final class Pause extends OnOne {
        @Override
        int run(ManagedChannel channel) {
            print(this, jobs(channel).pauseSchedule(ref()), "paused");
            return ExitCodes.OK;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Fires a paused schedule again, from its next fire.")
    static final class Resume extends OnOne {
        @Override
        int run(ManagedChannel channel) {
            print(this, jobs(channel).resumeSchedule(ref()), "resumed");
            return ExitCodes.OK;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Deletes a schedule (the jobs it made stay).")
    static final class Delete extends OnOne {
        @Override
        int run(ManagedChannel channel) {
            print(this, jobs(channel).deleteSchedule(ref()), "deleted");
            return ExitCodes.OK;
        }
    }
}
