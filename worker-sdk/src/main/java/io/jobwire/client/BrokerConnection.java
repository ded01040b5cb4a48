package io.jobwire.client;

import io.opentelemetry.api.OpenTelemetry;
import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * How to reach the brokers: one or more {@code host:port} targets, optional TLS (trusting a CA file)
 * and an optional bearer token. Holds one channel per target, opened on first use. Shared by
 * {@link JobwireClient} and {@code io.jobwire.worker.Worker}; you rarely need it directly.
 *
 * <pre>{@code
 * try (BrokerConnection brokers = new BrokerConnection(List.of("a:7070", "b:7070"), Path.of("ca.pem"), token)) {
 *     JobServiceGrpc.JobServiceBlockingStub stub = JobServiceGrpc.newBlockingStub(brokers.channel(0))
 *             .withCallCredentials(brokers.callCredentials());
 * }
 * }</pre>
 */
public final class BrokerConnection implements AutoCloseable {
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final List<String> targets;
    private final ChannelCredentials credentials;
    private final CallCredentials token;
    private final ManagedChannel[] channels;
    /** For a connection made by {@link #withToken}: the one whose channels it uses; null otherwise. */
    private final BrokerConnection shared;
    private final OpenTelemetry openTelemetry;

    /**
     * @param targets one or more {@code host:port}
     * @param caFile  PEM file of the CA to trust for TLS, or null for plaintext
     * @param token   bearer token sent with every call, or null
     */
    public BrokerConnection(List<String> targets, Path caFile, String token) {
        this(targets, caFile, null, null, token);
    }

    /**
     * @param clientCert PEM certificate chain to present for mutual TLS, or null
     * @param clientKey  PEM private key of {@code clientCert}, or null
     */
    public BrokerConnection(List<String> targets, Path caFile, Path clientCert, Path clientKey, String token) {
        this(targets, caFile, clientCert, clientKey, token, null);
    }

    /**
     * @param openTelemetry whose propagators send the caller's trace context and whose tracer records the
     *                      worker's handler spans; null: the global instance (installed by the application
     *                      or the OpenTelemetry agent), looked up at each use
     */
    public BrokerConnection(List<String> targets, Path caFile, Path clientCert, Path clientKey, String token,
                            OpenTelemetry openTelemetry) {
        this.openTelemetry = openTelemetry;
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("at least one broker target is needed");
        }
        if ((clientCert == null) != (clientKey == null)) {
            throw new IllegalArgumentException("a client certificate needs its key, and a key its certificate");
        }
        if (clientCert != null && caFile == null) {
            throw new IllegalArgumentException("a client certificate is for TLS: give the CA file too");
        }
        this.targets = List.copyOf(targets);
        this.credentials = caFile == null ? InsecureChannelCredentials.create() : tls(caFile, clientCert, clientKey);
        this.token = token == null ? null : bearer(token);
        this.channels = new ManagedChannel[targets.size()];
        this.shared = null;
    }

    private BrokerConnection(BrokerConnection shared, String token) {
        this.openTelemetry = shared.openTelemetry;
        this.targets = shared.targets;
        this.credentials = shared.credentials;
        this.token = bearer(token);
        this.channels = null;
        this.shared = shared;
    }

    /**
     * The same brokers over the same channels, with another bearer token (a job token, for instance).
     * Closing it closes nothing: the channels stay this connection's.
     */
    public BrokerConnection withToken(String otherToken) {
        return new BrokerConnection(shared != null ? shared : this, otherToken);
    }

    private static ChannelCredentials tls(Path caFile, Path clientCert, Path clientKey) {
        try {
            TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder().trustManager(caFile.toFile());
            if (clientCert != null) {
                tls.keyManager(clientCert.toFile(), clientKey.toFile());
            }
            return tls.build();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the TLS files (" + caFile
                    + (clientCert == null ? "" : ", " + clientCert + ", " + clientKey) + ")", e);
        }
    }

    /** Credentials that send {@code authorization: Bearer <token>} with every call. */
    public static CallCredentials bearer(String token) {
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
                Metadata headers = new Metadata();
                headers.put(AUTHORIZATION, "Bearer " + token);
                applier.apply(headers);
            }
        };
    }

    public int size() {
        return targets.size();
    }

    public String target(int index) {
        return targets.get(Math.floorMod(index, targets.size()));
    }

    /** The channel to target {@code index} (modulo the number of targets). */
    public ManagedChannel channel(int index) {
        return shared != null ? shared.channel(index) : ownChannel(index);
    }

    private synchronized ManagedChannel ownChannel(int index) {
        int i = Math.floorMod(index, targets.size());
        if (channels[i] == null) {
            channels[i] = Grpc.newChannelBuilder(targets.get(i), credentials)
                    .maxInboundMessageSize(64 * 1024 * 1024)
                    .intercept(new TraceContext(openTelemetry))
                    .build();
        }
        return channels[i];
    }

    /** The OpenTelemetry of traces: the one given, or the global one (a no-op unless the application installed one). */
    public OpenTelemetry openTelemetry() {
        return openTelemetry != null ? openTelemetry : io.opentelemetry.api.GlobalOpenTelemetry.getOrNoop();
    }

    /** The bearer token credentials to attach to stubs, or null. */
    public CallCredentials callCredentials() {
        return token;
    }

    @Override
    public synchronized void close() {
        if (shared != null) {
            return;
        }
        for (ManagedChannel channel : channels) {
            if (channel != null) {
                channel.shutdownNow();
            }
        }
        for (ManagedChannel channel : channels) {
            if (channel != null) {
                try {
                    channel.awaitTermination(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }
}
