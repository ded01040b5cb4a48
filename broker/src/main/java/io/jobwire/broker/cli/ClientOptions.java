package io.jobwire.broker.cli;

import io.jobwire.client.BrokerConnection;
import java.nio.file.Path;
import java.util.List;
import java.time.Duration;
import picocli.CommandLine.Option;

/** {@code --target} and {@code --timeout}, shared by every command that talks to a broker. */
final class ClientOptions {
    @Option(names = "--target", defaultValue = "${env:JOBWIRE_TARGET:-localhost:7070}",
            description = "Broker address host:port, or several separated by commas (default: $JOBWIRE_TARGET, "
                    + "else localhost:7070).")
    String target;

    @Option(names = "--timeout", defaultValue = "30s", description = "Deadline of each call (default: 30s).")
    Duration timeout;

    @Option(names = "--token", defaultValue = "${env:JOBWIRE_TOKEN}",
            description = "Bearer token (default: $JOBWIRE_TOKEN).")
    String token;

    @Option(names = "--ca-file", description = "Use TLS, trusting the CA certificate(s) in this PEM file.")
    Path caFile;

    @Option(names = "--client-cert", description = "Client certificate (PEM) for mutual TLS, with --client-key and --ca-file.")
    Path cert;

    @Option(names = "--client-key", description = "Private key (PEM) of --client-cert.")
    Path key;

    /** The broker connection these options describe; the caller closes it. */
    BrokerConnection connect() {
        return new BrokerConnection(List.of(target.split(",")), caFile, cert, key, token());
    }

    /** The token to send, or null. */
    String token() {
        return token == null || token.isBlank() ? null : token.strip();
    }
}
