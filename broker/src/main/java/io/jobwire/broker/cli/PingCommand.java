package io.jobwire.broker.cli;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.jobwire.client.BrokerConnection;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jobwire ping}: asks each target whether it serves, through the standard gRPC health check (open
 * without a token). With {@code --wait}, asks again until it does, for scripts that start a broker and
 * go on once it is up.
 */
@Command(name = "ping", mixinStandardHelpOptions = true,
        description = "Asks the broker (each --target) whether it serves; with --wait, until it does.")
final class PingCommand extends ClientCommand {
    private static final Duration ASK_EVERY = Duration.ofMillis(250);

    @Option(names = "--wait", paramLabel = "DURATION",
            description = "Keep asking until the broker serves or this long has passed, e.g. 60s (default: ask once).")
    Duration wait = Duration.ZERO;

    @Override
    public Integer call() throws Exception {
        if (wait.isNegative()) {
            throw new IllegalArgumentException("--wait must not be negative, got " + wait);
        }
        long deadline = System.nanoTime() + wait.toNanos();
        try (BrokerConnection connection = client.connect()) {
            for (int i = 0; i < connection.size(); i++) {
                ping(connection.channel(i), deadline);
                out().println(connection.target(i) + " serves");
            }
        }
        out().flush();
        return ExitCodes.OK;
    }

    @Override
    int run(ManagedChannel channel) {
        throw new UnsupportedOperationException("ping asks every target; see call()");
    }

    /** Returns once the broker behind {@code channel} serves; throws its last answer once the deadline passed. */
    private void ping(ManagedChannel channel, long deadline) throws InterruptedException {
        HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
        while (true) {
            StatusRuntimeException last;
            try {
                ServingStatus status = health.withDeadlineAfter(client.timeout.toMillis(), TimeUnit.MILLISECONDS)
                        .check(HealthCheckRequest.getDefaultInstance()).getStatus();
                if (status == ServingStatus.SERVING) {
                    return;
                }
                last = Status.UNAVAILABLE.withDescription("the broker answers but does not serve (" + status + ")")
                        .asRuntimeException();
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.UNAVAILABLE) {
                    throw e;
                }
                last = e;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw last;
            }
            Thread.sleep(ASK_EVERY.toMillis());
            channel.resetConnectBackoff(); // a broker that just started is asked at once, not after the backoff
        }
    }
}
