package io.jobwire.client;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How to reach the brokers, shared by the builders of {@link JobwireClient} and {@code Worker}: the
 * targets, TLS (and mutual TLS), and the bearer token.
 *
 * @param <B> the builder itself, so each option returns it
 */
public abstract class ConnectionBuilder<B extends ConnectionBuilder<B>> {
    /** Where the builders connect when no target is given. */
    public static final String DEFAULT_TARGET = "localhost:7070";

    private final List<String> targets = new ArrayList<>();
    private Path caFile;
    private Path clientCert;
    private Path clientKey;
    private String token;
    private io.opentelemetry.api.OpenTelemetry openTelemetry;

    protected ConnectionBuilder() {
    }

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }

    /** A broker {@code host:port}; call again to add more (calls and workers move on when one is gone). */
    public B target(String target) {
        targets.add(target);
        return self();
    }

    public B targets(List<String> more) {
        targets.addAll(more);
        return self();
    }

    /** Use TLS, trusting the CA certificate(s) in this PEM file. */
    public B tls(Path caCertificates) {
        this.caFile = caCertificates;
        return self();
    }

    /** For mutual TLS: present this PEM certificate chain and private key (with {@link #tls(Path)}). */
    public B clientCertificate(Path certificateChain, Path privateKey) {
        this.clientCert = certificateChain;
        this.clientKey = privateKey;
        return self();
    }

    /** Send this bearer token with every call and stream. */
    public B token(String bearerToken) {
        this.token = bearerToken;
        return self();
    }

    /**
     * Traces with this OpenTelemetry (default: the global one, when the application or the OpenTelemetry
     * agent installed it): JobService calls send the current trace context, so the jobs they submit keep
     * it, and a worker runs each handler in a span within the trace its job came with.
     */
    public B openTelemetry(io.opentelemetry.api.OpenTelemetry openTelemetry) {
        this.openTelemetry = openTelemetry;
        return self();
    }

    /** Opens the channels to the targets given ({@link #DEFAULT_TARGET} without any). */
    protected BrokerConnection connect() {
        List<String> to = targets.isEmpty() ? List.of(DEFAULT_TARGET) : targets;
        return new BrokerConnection(to, caFile, clientCert, clientKey, token, openTelemetry);
    }
}
