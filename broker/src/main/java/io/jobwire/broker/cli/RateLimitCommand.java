package io.jobwire.broker.cli;

import io.grpc.ManagedChannel;
import io.jobwire.api.v1.DeleteRateLimitRequest;
import io.jobwire.api.v1.ListRateLimitsRequest;
import io.jobwire.api.v1.RateLimit;
import io.jobwire.api.v1.SetRateLimitRequest;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jobwire rate-limit}: how often jobs of a rate key may start. */
@Command(name = "rate-limit", mixinStandardHelpOptions = true,
        description = "The rate limits, with the jobs waiting for each (yours; an admin's: everyone's).",
        subcommands = {RateLimitCommand.Set.class, RateLimitCommand.Delete.class})
final class RateLimitCommand extends ClientCommand {
    @Option(names = "--json", description = "One JSON object per limit and line.")
    boolean json;

    @Override
    int run(ManagedChannel channel) {
        List<RateLimit> limits = jobs(channel).listRateLimits(ListRateLimitsRequest.getDefaultInstance()).getRateLimitsList();
        if (json) {
            limits.forEach(limit -> out().println(JobJson.compact(limit)));
            out().flush();
            return ExitCodes.OK;
        }
        Table table = new Table("KEY", "PER SECOND", "BURST", "TOKENS", "WAITING", "SET BY");
        for (RateLimit limit : limits) {
            table.row(limit.getKey(), number(limit.getPerSecond()), limit.getBurst(),
                    String.format(Locale.ROOT, "%.1f", limit.getTokens()), limit.getWaiting(), limit.getSetBy());
        }
        table.print(out());
        return ExitCodes.OK;
    }

    static String number(double value) {
        return value == Math.rint(value) ? Long.toString((long) value) : Double.toString(value);
    }

    static String line(RateLimit limit) {
        return "rate key " + limit.getKey() + ": " + number(limit.getPerSecond()) + " starts per second, bursts of "
                + limit.getBurst();
    }

    @Command(name = "set", mixinStandardHelpOptions = true,
            description = "Sets a key's rate limit (admin): its jobs (submit --rate-key) start at most this often, "
                    + "across every broker; the others wait.")
    static final class Set extends ClientCommand {
        @Option(names = "--key", required = true, paramLabel = "KEY", description = "The rate key, e.g. stripe-api.")
        String key;

        @Option(names = "--per-second", required = true, paramLabel = "N",
                description = "Starts per second on average (0.5: one every two seconds).")
        double perSecond;

        @Option(names = "--burst", paramLabel = "N",
                description = "Starts at once after a quiet spell (default: a second's worth, at least 1).")
        int burst;

        @Override
        int run(ManagedChannel channel) {
            RateLimit limit = jobs(channel).setRateLimit(SetRateLimitRequest.newBuilder().setKey(key)
                    .setPerSecond(perSecond).setBurst(burst).build());
            out().println(line(limit));
            out().flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true,
            description = "Deletes a key's rate limit (admin): its waiting jobs start without one.")
    static final class Delete extends ClientCommand {
        @Option(names = "--key", required = true, paramLabel = "KEY", description = "The rate key.")
        String key;

        @Override
        int run(ManagedChannel channel) {
            RateLimit limit = jobs(channel).deleteRateLimit(DeleteRateLimitRequest.newBuilder().setKey(key).build());
            out().println("deleted the limit of " + line(limit));
            out().flush();
            return ExitCodes.OK;
        }
    }
}
