package io.jobwire.broker.cli;

import io.grpc.ManagedChannel;
import io.jobwire.api.v1.CallbackAttempt;
import io.jobwire.api.v1.CallbackDelivery;
import io.jobwire.api.v1.CallbackSecret;
import io.jobwire.api.v1.GetCallbackSecretRequest;
import io.jobwire.api.v1.ListCallbacksRequest;
import io.jobwire.api.v1.ListCallbacksResponse;
import io.jobwire.api.v1.RedeliverCallbackRequest;
import java.time.Instant;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jobwire callbacks}: the callback deliveries, their redelivery, and the secret that signs them. */
@Command(name = "callbacks", mixinStandardHelpOptions = true,
        description = "Callback deliveries, newest first, with their last attempt (yours; an admin sees every owner's).",
        subcommands = {CallbacksCommand.Secret.class, CallbacksCommand.Redeliver.class})
final class CallbacksCommand extends ClientCommand {
    @Option(names = "--failing", description = "Only deliveries that failed, or are pending after a failed attempt.")
    boolean failing;

    @Option(names = "--job", paramLabel = "ID", description = "Only this job's deliveries.")
    String job = "";

    @Option(names = "--owner", description = "Only this owner's (admin).")
    String owner = "";

    @Option(names = "--limit", defaultValue = "50", description = "At most this many (default: 50).")
    int limit;

    @Option(names = "--json", description = "One JSON object per delivery and line, with every attempt.")
    boolean json;

    @Override
    int run(ManagedChannel channel) {
        ListCallbacksResponse page = jobs(channel).listCallbacks(ListCallbacksRequest.newBuilder()
                .setFailing(failing).setJobId(job).setOwner(owner).setPageSize(Math.max(1, Math.min(1000, limit))).build());
        if (json) {
            page.getDeliveriesList().forEach(delivery -> out().println(JobJson.compact(delivery)));
            out().flush();
            return ExitCodes.OK;
        }
        Table table = new Table("ID", "JOB", "EVENT", "STATE", "ATTEMPTS", "LAST", "NEXT", "URL");
        for (CallbackDelivery delivery : page.getDeliveriesList()) {
            table.row(delivery.getId(), delivery.getJobId(), delivery.getEvent(),
                    delivery.getState().name().substring("CALLBACK_DELIVERY_STATE_".length()).toLowerCase(Locale.ROOT),
                    delivery.getAttemptsCount(), last(delivery),
                    delivery.hasNextAttemptAt() ? Instant.ofEpochSecond(delivery.getNextAttemptAt().getSeconds()) : "-",
                    delivery.getUrl());
        }
        table.print(out());
        return ExitCodes.OK;
    }

    /** The last attempt in a few words: its status and error. */
    private static String last(CallbackDelivery delivery) {
        if (delivery.getAttemptsCount() == 0) {
            return "-";
        }
        CallbackAttempt attempt = delivery.getAttempts(delivery.getAttemptsCount() - 1);
        String status = attempt.getHttpStatus() == 0 ? "" : "HTTP " + attempt.getHttpStatus();
        String error = attempt.getError().startsWith("HTTP ") ? "" : attempt.getError();
        String both = status.isEmpty() ? error : error.isEmpty() ? status : status + ": " + error;
        return both.length() > 60 ? both.substring(0, 57) + "..." : both;
    }

    @Command(name = "secret", mixinStandardHelpOptions = true,
            description = {"Prints the secret (whsec_...) that signs your callbacks, made on first use. Receivers "
                    + "verify deliveries with it, as the Standard Webhooks libraries do.",
                    "--rotate makes a new one; the previous one goes on signing too for 24 hours."})
    static final class Secret extends ClientCommand {
        @Option(names = "--rotate", description = "Make a new secret.")
        boolean rotate;

        @Option(names = "--owner", description = "Whose secret (admin).")
        String owner = "";

        @Override
        int run(ManagedChannel channel) {
            CallbackSecret secret = jobs(channel).getCallbackSecret(GetCallbackSecretRequest.newBuilder()
                    .setOwner(owner).setRotate(rotate).build());
            out().println(secret.getSecret());
            out().flush();
            if (secret.hasPreviousValidUntil()) {
                err().println("jobwire callbacks secret: the previous secret signs too until "
                        + Instant.ofEpochSecond(secret.getPreviousValidUntil().getSeconds()));
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "redeliver", mixinStandardHelpOptions = true,
            description = "Delivers a failed (or delivered) callback again, now, with a fresh retry window.")
    static final class Redeliver extends ClientCommand {
        @Parameters(paramLabel = "ID", description = "The delivery's id (from jobwire callbacks).")
        String id;

        @Override
        int run(ManagedChannel channel) {
            CallbackDelivery delivery = jobs(channel).redeliverCallback(RedeliverCallbackRequest.newBuilder().setId(id).build());
            out().println("callback delivery " + delivery.getId() + " (" + delivery.getEvent() + " of job "
                    + delivery.getJobId() + ") is pending again");
            out().flush();
            return ExitCodes.OK;
        }
    }
}
