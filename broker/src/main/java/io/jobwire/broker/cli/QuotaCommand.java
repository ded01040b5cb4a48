package io.jobwire.broker.cli;

import com.google.protobuf.Timestamp;
import io.grpc.ManagedChannel;
import io.jobwire.api.v1.DeleteQuotaRequest;
import io.jobwire.api.v1.ListQuotasRequest;
import io.jobwire.api.v1.ListQuotasResponse;
import io.jobwire.api.v1.Quota;
import io.jobwire.api.v1.QuotaUsage;
import io.jobwire.api.v1.SetQuotaRequest;
import java.time.Instant;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jobwire quota}: owners' limits, what is used of them, and when room comes back. */
@Command(name = "quota", mixinStandardHelpOptions = true,
        description = "Quotas with their limits, usage and reset times (yours; an admin sees every owner's).",
        subcommands = {QuotaCommand.Set.class, QuotaCommand.Delete.class})
final class QuotaCommand extends ClientCommand {
    @Option(names = "--owner", description = "Only this owner's (admin).")
    String owner = "";

    @Option(names = "--json", description = "Print the raw answer as JSON.")
    boolean json;

    @Override
    int run(ManagedChannel channel) {
        ListQuotasResponse quotas = jobs(channel).listQuotas(ListQuotasRequest.newBuilder().setOwner(owner).build());
        if (json) {
            out().println(JobJson.pretty(quotas));
            out().flush();
            return ExitCodes.OK;
        }
        Table table = new Table("OWNER", "TYPES", "WAITING", "LAST MINUTE", "LAST HOUR", "LAST DAY", "NEXT ROOM");
        quotas.getQuotasList().forEach(usage -> {
            Quota quota = usage.getQuota();
            table.row(quota.getOwner(), quota.getTypePattern(),
                    of(usage.getWaiting(), quota.getMaxWaiting()),
                    of(usage.getSubmittedLastMinute(), quota.getPerMinute()),
                    of(usage.getSubmittedLastHour(), quota.getPerHour()),
                    of(usage.getSubmittedLastDay(), quota.getPerDay()),
                    nextRoom(usage, quota));
        });
        table.print(out());
        return ExitCodes.OK;
    }

    /** "used/limit", or just what is used when there is no limit. */
    private static String of(long used, int limit) {
        return limit == 0 ? used + "" : used + "/" + limit;
    }

    /**
     * When this quota takes a submit again: now if no limit is reached; as jobs finish if max-waiting is;
     * else when the oldest submit leaves the last full window (the minute, hour or day).
     */
    private static String nextRoom(QuotaUsage usage, Quota quota) {
        Instant at = null;
        at = later(at, usage.getSubmittedLastMinute(), quota.getPerMinute(), usage.getMinuteFreesAt());
        at = later(at, usage.getSubmittedLastHour(), quota.getPerHour(), usage.getHourFreesAt());
        at = later(at, usage.getSubmittedLastDay(), quota.getPerDay(), usage.getDayFreesAt());
        if (reached(usage.getWaiting(), quota.getMaxWaiting())) {
            return at == null ? "as jobs finish" : "as jobs finish, from " + at;
        }
        return at == null ? "now" : at.toString();
    }

    private static boolean reached(long used, int limit) {
        return limit > 0 && used >= limit;
    }

    /** The later of {@code at} and when a full window frees room. */
    private static Instant later(Instant at, long used, int limit, Timestamp freesAt) {
        if (!reached(used, limit) || freesAt.getSeconds() == 0) {
            return at;
        }
        Instant frees = Instant.ofEpochSecond(freesAt.getSeconds());
        return at == null || frees.isAfter(at) ? frees : at;
    }

    @Command(name = "set", mixinStandardHelpOptions = true,
            description = "Sets an owner's quota for all its types or those --type covers (admin); 0 is no limit.")
    static final class Set extends ClientCommand {
        @Option(names = "--owner", required = true, description = "Whose jobs.")
        String owner;

        @Option(names = "--type", description = "*, a type, or the start of one followed by * (default: *).")
        String type = "*";

        @Option(names = "--max-waiting", description = "Jobs queued, running or held at once.")
        int maxWaiting;

        @Option(names = "--per-minute", description = "Jobs submitted in any minute.")
        int perMinute;

        @Option(names = "--per-hour", description = "Jobs submitted in any hour.")
        int perHour;

        @Option(names = "--per-day", description = "Jobs submitted in any day.")
        int perDay;

        @Override
        int run(ManagedChannel channel) {
            Quota quota = jobs(channel).setQuota(SetQuotaRequest.newBuilder().setQuota(Quota.newBuilder()
                    .setOwner(owner).setTypePattern(type).setMaxWaiting(maxWaiting).setPerMinute(perMinute)
                    .setPerHour(perHour).setPerDay(perDay)).build());
            out().println("quota set for " + quota.getOwner() + ", types " + quota.getTypePattern());
            out().flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Removes an owner's quota (admin).")
    static final class Delete extends ClientCommand {
        @Option(names = "--owner", required = true, description = "Whose quota.")
        String owner;

        @Option(names = "--type", description = "The quota's type pattern (default: *).")
        String type = "*";

        @Override
        int run(ManagedChannel channel) {
            jobs(channel).deleteQuota(DeleteQuotaRequest.newBuilder().setOwner(owner).setTypePattern(type).build());
            out().println("quota deleted for " + owner + ", types " + type);
            out().flush();
            return ExitCodes.OK;
        }
    }
}
