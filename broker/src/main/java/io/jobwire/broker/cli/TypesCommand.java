package io.jobwire.broker.cli;

import com.google.protobuf.Duration;
import io.grpc.ManagedChannel;
import io.jobwire.api.v1.GetJobTypeRequest;
import io.jobwire.api.v1.FairShare;
import io.jobwire.api.v1.JobTypeDefaults;
import io.jobwire.api.v1.JobTypeInfo;
import io.jobwire.api.v1.JobTypeRegistration;
import io.jobwire.api.v1.ListJobTypesRequest;
import io.jobwire.api.v1.ListJobTypesResponse;
import io.jobwire.api.v1.RegisterJobTypeRequest;
import io.jobwire.api.v1.RetryPolicy;
import io.jobwire.api.v1.UnregisterJobTypeRequest;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jobwire types}: the job types registered by admins and announced by workers. */
@Command(name = "types", mixinStandardHelpOptions = true,
        description = "Every job type, registered or announced by a worker; register, show and unregister them.",
        subcommands = {TypesCommand.Register.class, TypesCommand.Show.class, TypesCommand.Unregister.class})
final class TypesCommand extends ClientCommand {
    @Option(names = "--json", description = "Print the raw answer as JSON.")
    boolean json;

    @Override
    int run(ManagedChannel channel) {
        ListJobTypesResponse types = jobs(channel).listJobTypes(ListJobTypesRequest.getDefaultInstance());
        if (json) {
            out().println(JobJson.pretty(types));
            out().flush();
            return ExitCodes.OK;
        }
        Table table = new Table("TYPE", "REGISTERED", "WORKERS", "LAST SEEN", "SCHEMA", "DESCRIPTION");
        types.getJobTypesList().forEach(type -> table.row(type.getName(),
                type.hasRegistration() ? "v" + type.getRegistrationVersion() : "-",
                type.getWorkersOnline(),
                type.hasLastSeenAt() ? Instant.ofEpochSecond(type.getLastSeenAt().getSeconds()) : "-",
                schema(type), description(type)));
        table.print(out());
        return ExitCodes.OK;
    }

    /** Whose schema payloads are checked against, and whether a worker disagrees. */
    private static String schema(JobTypeInfo type) {
        if (type.hasRegistration() && !type.getRegistration().getPayloadSchema().isEmpty()) {
            return type.getAnnouncedSchemaDiffers() ? "registered (a worker's differs)" : "registered";
        }
        return type.getPayloadSchema().isEmpty() ? "-" : "announced";
    }

    private static String description(JobTypeInfo type) {
        return type.hasRegistration() && !type.getRegistration().getDescription().isEmpty()
                ? type.getRegistration().getDescription() : type.getDescription();
    }

    @Command(name = "register", mixinStandardHelpOptions = true,
            description = "Registers a job type (admin), or replaces its registration: submits of it are then "
                    + "checked against its payload schema and take its defaults.")
    static final class Register extends ClientCommand {
        @Option(names = "--type", required = true, description = "The type's name.")
        String type;

        @Option(names = "--description", description = "One line: what the job does.")
        String description = "";

        @Option(names = "--schema", paramLabel = "FILE", description = "JSON Schema every payload must match (- for stdin).")
        String schema;

        @Option(names = "--result-schema", paramLabel = "FILE", description = "JSON Schema of the result (shown, not enforced).")
        String resultSchema;

        @Option(names = "--doc", paramLabel = "FILE", description = "Documentation for the people who submit or run it.")
        String doc;

        @Option(names = "--uses", split = ",", paramLabel = "NAME",
                description = "External calls or permissions the job uses, comma-separated.")
        List<String> uses = new ArrayList<>();

        @Option(names = "--queue", description = "Default queue of its jobs.")
        String queue = "";

        @Option(names = "--lease", description = "Default lease of its jobs, e.g. 2m.")
        java.time.Duration lease;

        @Option(names = "--run-timeout", paramLabel = "DURATION",
                description = "Default run timeout of its jobs: the longest one attempt may run, e.g. 10m.")
        java.time.Duration runTimeout;

        @Option(names = "--concurrency-key", paramLabel = "KEY",
                description = "Concurrency key of its jobs that name none: one key for the whole type caps how many run at once.")
        String concurrencyKey = "";

        @Option(names = "--concurrency-limit", paramLabel = "N", description = "Default limit of its jobs' concurrency keys.")
        int concurrencyLimit;

        @Option(names = "--rate-key", paramLabel = "KEY",
                description = "Rate key of its jobs that name none (the type's name limits the whole type).")
        String rateKey = "";

        @Option(names = "--fair", description = "Owners take turns: one owner's backlog does not hold up another's jobs.")
        boolean fair;

        @Option(names = "--weight", paramLabel = "OWNER=N",
                description = "With --fair: the owner starts N jobs for each one of an owner of weight 1 (default 1). Repeatable.")
        Map<String, Integer> weights = new LinkedHashMap<>();

        @Option(names = "--max-attempts", description = "Default attempts before its jobs end FAILED.")
        int maxAttempts;

        @Option(names = "--retry-initial", description = "Default delay after a first failed attempt, e.g. 10s.")
        java.time.Duration retryInitial;

        @Option(names = "--retry-max", description = "Default longest delay between attempts, e.g. 1h.")
        java.time.Duration retryMax;

        @Option(names = "--json", description = "Print the answer as JSON.")
        boolean json;

        @Override
        int run(ManagedChannel channel) {
            JobTypeRegistration.Builder registration = JobTypeRegistration.newBuilder().setName(type)
                    .setDescription(description).addAllUses(uses);
            if (schema != null) {
                registration.setPayloadSchema(Inputs.fileOrStdin("--schema", schema));
            }
            if (resultSchema != null) {
                registration.setResultSchema(Inputs.fileOrStdin("--result-schema", resultSchema));
            }
            if (doc != null) {
                registration.setDocumentation(Inputs.fileOrStdin("--doc", doc));
            }
            JobTypeDefaults.Builder defaults = JobTypeDefaults.newBuilder().setQueue(queue).setMaxAttempts(maxAttempts);
            if (lease != null) {
                defaults.setLeaseDuration(duration(lease));
            }
            if (runTimeout != null) {
                defaults.setRunTimeout(duration(runTimeout));
            }
            defaults.setConcurrencyKey(concurrencyKey).setConcurrencyLimit(concurrencyLimit).setRateKey(rateKey);
            if (retryInitial != null || retryMax != null) {
                RetryPolicy.Builder retry = RetryPolicy.newBuilder();
                if (retryInitial != null) {
                    retry.setInitialDelay(duration(retryInitial));
                }
                if (retryMax != null) {
                    retry.setMaxDelay(duration(retryMax));
                }
                defaults.setRetryPolicy(retry);
            }
            registration.setDefaults(defaults);
            if (!weights.isEmpty() && !fair) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--weight goes with --fair");
            }
            if (fair) {
                registration.setFairShare(FairShare.newBuilder().putAllWeights(weights));
            }
            JobTypeInfo info = jobs(channel).registerJobType(RegisterJobTypeRequest.newBuilder()
                    .setRegistration(registration).build());
            if (json) {
                out().println(JobJson.pretty(info));
            } else {
                out().println("registered " + info.getName() + " (version " + info.getRegistrationVersion() + ")");
            }
            out().flush();
            return ExitCodes.OK;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "One job type: its registration and what workers announced.")
    static final class Show extends ClientCommand {
        @Parameters(paramLabel = "TYPE")
        String type;

        @Option(names = "--json", description = "Print the raw answer as JSON.")
        boolean json;

        @Override
        int run(ManagedChannel channel) {
            JobTypeInfo info = jobs(channel).getJobType(GetJobTypeRequest.newBuilder().setName(type).build());
            if (json) {
                out().println(JobJson.pretty(info));
                out().flush();
                return ExitCodes.OK;
            }
            print(out(), info);
            out().flush();
            return ExitCodes.OK;
        }

        static void print(PrintWriter out, JobTypeInfo info) {
            out.println(info.getName());
            if (info.hasRegistration()) {
                JobTypeRegistration registration = info.getRegistration();
                out.println("  registered      version " + info.getRegistrationVersion() + " by " + info.getRegisteredBy()
                        + " at " + Instant.ofEpochSecond(info.getRegisteredAt().getSeconds()));
                line(out, "description", registration.getDescription());
                line(out, "uses", String.join(", ", registration.getUsesList()));
                JobTypeDefaults defaults = registration.getDefaults();
                List<String> given = new ArrayList<>();
                if (!defaults.getQueue().isEmpty()) {
                    given.add("queue " + defaults.getQueue());
                }
                if (defaults.hasLeaseDuration()) {
                    given.add("lease " + format(defaults.getLeaseDuration()));
                }
                if (defaults.getMaxAttempts() != 0) {
                    given.add("max attempts " + defaults.getMaxAttempts());
                }
                if (defaults.hasRunTimeout()) {
                    given.add("run timeout " + format(defaults.getRunTimeout()));
                }
                if (!defaults.getConcurrencyKey().isEmpty()) {
                    given.add("concurrency key " + defaults.getConcurrencyKey());
                }
                if (defaults.getConcurrencyLimit() != 0) {
                    given.add("concurrency limit " + defaults.getConcurrencyLimit());
                }
                if (!defaults.getRateKey().isEmpty()) {
                    given.add("rate key " + defaults.getRateKey());
                }
                if (defaults.getRetryPolicy().hasInitialDelay()) {
                    given.add("retry initial " + format(defaults.getRetryPolicy().getInitialDelay()));
                }
                if (defaults.getRetryPolicy().hasMaxDelay()) {
                    given.add("retry max " + format(defaults.getRetryPolicy().getMaxDelay()));
                }
                line(out, "defaults", String.join(", ", given));
                if (registration.hasFairShare()) {
                    line(out, "fair share", "owners take turns" + (registration.getFairShare().getWeightsCount() == 0 ? ""
                            : "; weights " + new TreeMap<>(registration.getFairShare().getWeightsMap()).entrySet()
                            .stream().map(w -> w.getKey() + "=" + w.getValue()).collect(Collectors.joining(", "))));
                }
                line(out, "payload schema", JobJson.compactJson(registration.getPayloadSchema()));
                line(out, "result schema", JobJson.compactJson(registration.getResultSchema()));
                if (info.getAnnouncedSchemaDiffers()) {
                    out.println("  (a worker announced a different payload schema; submits are checked against the "
                            + "registered one)");
                }
            } else {
                out.println("  not registered (announced by a worker)");
            }
            if (info.hasLastSeenAt()) {
                out.println("  workers         " + info.getWorkersOnline() + " online, last seen "
                        + Instant.ofEpochSecond(info.getLastSeenAt().getSeconds()));
                line(out, "announced as", info.getDescription());
                line(out, "announced schema", JobJson.compactJson(info.getPayloadSchema()));
            }
            if (info.hasRegistration() && !info.getRegistration().getDocumentation().isEmpty()) {
                out.println();
                out.println(info.getRegistration().getDocumentation().stripTrailing());
            }
        }

        private static void line(PrintWriter out, String label, String value) {
            if (!value.isEmpty()) {
                out.println("  " + String.format("%-15s", label) + " " + value);
            }
        }

        private static String format(Duration duration) {
            return DurationConverter.format(java.time.Duration.ofSeconds(duration.getSeconds(), duration.getNanos()));
        }
    }

    @Command(name = "unregister", mixinStandardHelpOptions = true,
            description = "Removes a type's registration (admin); what workers announced stays.")
    static final class Unregister extends ClientCommand {
        @Parameters(paramLabel = "TYPE")
        String type;

        @Override
        int run(ManagedChannel channel) {
            jobs(channel).unregisterJobType(UnregisterJobTypeRequest.newBuilder().setName(type).build());
            out().println("unregistered " + type);
            out().flush();
            return ExitCodes.OK;
        }
    }

    private static Duration duration(java.time.Duration value) {
        return Duration.newBuilder().setSeconds(value.getSeconds()).setNanos(value.getNano()).build();
    }
}
