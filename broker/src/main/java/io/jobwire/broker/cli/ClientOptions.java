package io.jobwire.broker.cli;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.time.Duration;
import picocli.CommandLine.Option;

/** {@code --target} and {@code --timeout}, shared by every command that talks to a broker. */
final class ClientOptions {
    @Option(names = "--target", defaultValue = "${env:JOBWIRE_TARGET:-localhost:7070}",
            description = "Broker address host:port (default: $JOBWIRE_TARGET, else localhost:7070).")
    String target;

    @Option(names = "--timeout", defaultValue = "30s", description = "Deadline of each call (default: 30s).")
    Duration timeout;

    @Option(names = "--token", defaultValue = "${env:JOBWIRE_TOKEN}",
            description = "Bearer token (default: $JOBWIRE_TOKEN).")
    String token;

    ManagedChannel channel() {
        return NettyChannelBuilder.forTarget(target).usePlaintext().build();
    }

    /** The token to send, or null. */
    String token() {
        return token == null || token.isBlank() ? null : token.strip();
    }
}
