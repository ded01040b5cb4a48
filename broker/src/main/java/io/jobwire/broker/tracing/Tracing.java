package io.jobwire.broker.tracing;

import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Traces: the W3C trace context of a Submit call is kept with its jobs and handed to the worker with each
 * assignment, so the handler runs in the producer's trace. That much happens always (a job submitted in a
 * trace carries it, whatever the broker is set to). When the standard {@code OTEL_*} variables ask for an
 * exporter, the broker also records spans of its own, with OpenTelemetry's SDK: {@code jobwire submit
 * <type>} for each Submit (a child of the caller's span), {@code jobwire claim <type>} for each assignment
 * (the context the worker gets), and {@code jobwire finish <type>} when the worker's finish is committed.
 */
public final class Tracing implements AutoCloseable {
    /** A W3C trace context as text: the traceparent and its tracestate (may be null). */
    public record Carrier(String traceParent, String traceState) {
        static final Carrier NONE = new Carrier(null, null);

        public boolean isEmpty() {
            return traceParent == null;
        }
    }

    private static final Pattern TRACE_PARENT = Pattern.compile("[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}");
    private static final int MAX_TRACE_STATE = 512;
    private static final io.grpc.Context.Key<Carrier> INCOMING = io.grpc.Context.key("jobwire-trace");
    private static final Metadata.Key<String> TRACEPARENT = Metadata.Key.of("traceparent", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<String> TRACESTATE = Metadata.Key.of("tracestate", Metadata.ASCII_STRING_MARSHALLER);
    private static final TextMapPropagator W3C = W3CTraceContextPropagator.getInstance();
    private static final TextMapGetter<Carrier> FROM_CARRIER = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Carrier carrier) {
            return List.of("traceparent", "tracestate");
        }

        @Override
        public String get(Carrier carrier, String key) {
            return carrier == null ? null : key.equals("traceparent") ? carrier.traceParent()
                    : key.equals("tracestate") ? carrier.traceState() : null;
        }
    };

    private final Tracer tracer;
    private final AutoCloseable sdk;
    /** A submit outside any trace on a broker that records nothing: shared, since it does nothing. */
    private final Submit untraced = new Submit(null, Carrier.NONE);

    private Tracing(Tracer tracer, AutoCloseable sdk) {
        this.tracer = tracer;
        this.sdk = sdk;
    }

    /** Passes trace contexts through, records no spans. */
    public static Tracing off() {
        return new Tracing(null, null);
    }

    /** Records spans with this OpenTelemetry (tests give one with an in-memory exporter). */
    public static Tracing of(OpenTelemetry openTelemetry) {
        return new Tracing(openTelemetry.getTracer("io.jobwire.broker"), null);
    }

    /**
     * From the standard variables: spans are recorded when {@code OTEL_TRACES_EXPORTER} (other than
     * {@code none}) or an OTLP endpoint is set and {@code OTEL_SDK_DISABLED} is not {@code true}; the SDK's
     * autoconfiguration reads the rest ({@code OTEL_SERVICE_NAME}, {@code OTEL_EXPORTER_OTLP_*}, sampling...).
     */
    public static Tracing fromEnvironment(Map<String, String> env) {
        boolean asked = (env.containsKey("OTEL_TRACES_EXPORTER") && !env.get("OTEL_TRACES_EXPORTER").equals("none"))
                || env.containsKey("OTEL_EXPORTER_OTLP_ENDPOINT") || env.containsKey("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        if (!asked || "true".equalsIgnoreCase(env.get("OTEL_SDK_DISABLED"))) {
            return off();
        }
        OpenTelemetrySdk sdk = AutoConfiguredOpenTelemetrySdk.builder()
                .addPropertiesSupplier(() -> Map.of("otel.service.name", "jobwire-broker",
                        "otel.metrics.exporter", "none", "otel.logs.exporter", "none"))
                .build()
                .getOpenTelemetrySdk();
        return new Tracing(sdk.getTracer("io.jobwire.broker"), sdk);
    }

    public boolean recording() {
        return tracer != null;
    }

    /** Keeps the trace context a call sent ({@code traceparent}, {@code tracestate} metadata) for its handler. */
    public ServerInterceptor interceptor() {
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                               ServerCallHandler<Q, R> next) {
                Carrier carrier = valid(headers.get(TRACEPARENT), headers.get(TRACESTATE));
                if (carrier.isEmpty()) {
                    return next.startCall(call, headers);
                }
                return Contexts.interceptCall(io.grpc.Context.current().withValue(INCOMING, carrier), call, headers, next);
            }
        };
    }

    /** A trace context as received: a malformed or oversized one counts as none. */
    static Carrier valid(String traceParent, String traceState) {
        if (traceParent == null || !TRACE_PARENT.matcher(traceParent).matches() || traceParent.startsWith("ff")) {
            return Carrier.NONE;
        }
        return new Carrier(traceParent, traceState == null || traceState.length() > MAX_TRACE_STATE
                || traceState.chars().anyMatch(c -> c < 0x20 || c > 0x7e) ? null : traceState);
    }

    /** A Submit in progress: the context its jobs keep, and its span (if one is recorded). */
    public final class Submit {
        private final Span span;
        private final Carrier carrier;

        private Submit(Span span, Carrier carrier) {
            this.span = span;
            this.carrier = carrier;
        }

        /** Nothing to record and nothing to keep: the submit goes on as if there were no tracing. */
        public boolean isNothing() {
            return span == null && carrier.isEmpty();
        }

        /** What the jobs keep: the submit span's context, or the caller's as it came. */
        public Carrier carrier() {
            return carrier;
        }

        public void submitted(List<String> jobIds) {
            if (span != null) {
                span.setAttribute("messaging.batch.message_count", jobIds.size());
                if (jobIds.size() == 1) {
                    span.setAttribute("messaging.message.id", jobIds.get(0));
                }
                span.end();
            }
        }

        public void failed(Throwable error) {
            if (span != null) {
                span.setStatus(StatusCode.ERROR, String.valueOf(error.getMessage()));
                span.end();
            }
        }
    }

    /** Starts a Submit of jobs of these types in the calling gRPC call's trace context. */
    public Submit submit(String type, String queue, int jobs) {
        Carrier incoming = INCOMING.get();
        if (tracer == null) {
            return incoming == null ? untraced : new Submit(null, incoming);
        }
        incoming = incoming == null ? Carrier.NONE : incoming;
        Span span = tracer.spanBuilder("jobwire submit " + type).setSpanKind(SpanKind.PRODUCER)
                .setParent(W3C.extract(Context.root(), incoming, FROM_CARRIER))
                .setAttribute("messaging.system", "jobwire")
                .setAttribute("messaging.operation.type", "send")
                .setAttribute("messaging.destination.name", queue)
                .setAttribute("jobwire.job.type", type)
                .setAttribute("jobwire.jobs", jobs)
                .startSpan();
        return new Submit(span, inject(span));
    }

    /**
     * The context to hand to the worker with an assignment: a claim span within the job's trace when
     * spans are recorded, else the job's context as kept; none outside a trace.
     */
    public Carrier claim(String traceParent, String traceState, long jobId, int attempt, String type, String queue,
                         String workerId) {
        if (traceParent == null) {
            return Carrier.NONE;
        }
        Carrier kept = new Carrier(traceParent, traceState);
        if (tracer == null) {
            return kept;
        }
        Span span = jobSpan("claim", "receive", kept, jobId, type, queue)
                .setAttribute("jobwire.job.attempt", attempt)
                .setAttribute("jobwire.worker.id", workerId)
                .startSpan();
        span.end();
        return inject(span);
    }

    /** Records the commit of a worker's finish (succeeded, failed, retried, released) in the job's trace. */
    public void finish(Carrier handedOut, long jobId, String type, String queue, String outcome) {
        if (tracer == null || handedOut == null || handedOut.isEmpty()) {
            return;
        }
        Span span = jobSpan("finish", "settle", handedOut, jobId, type, queue)
                .setAttribute("jobwire.outcome", outcome)
                .startSpan();
        if (outcome.equals("failed") || outcome.equals("retried")) {
            span.setStatus(StatusCode.ERROR, outcome);
        }
        span.end();
    }

    /** A span {@code jobwire <what> <type>} about one job, in the trace of {@code parent}. */
    private io.opentelemetry.api.trace.SpanBuilder jobSpan(String what, String operation, Carrier parent, long jobId,
                                                          String type, String queue) {
        return tracer.spanBuilder("jobwire " + what + " " + type).setSpanKind(SpanKind.INTERNAL)
                .setParent(W3C.extract(Context.root(), parent, FROM_CARRIER))
                .setAttribute("messaging.system", "jobwire")
                .setAttribute("messaging.operation.type", operation)
                .setAttribute("messaging.destination.name", queue)
                .setAttribute("messaging.message.id", Long.toString(jobId))
                .setAttribute("jobwire.job.type", type);
    }

    private static Carrier inject(Span span) {
        Map<String, String> out = new HashMap<>(2);
        W3C.inject(Context.root().with(span), out, Map::put);
        return new Carrier(out.get("traceparent"), out.get("tracestate"));
    }

    @Override
    public void close() {
        if (sdk != null) {
            try {
                sdk.close();
            } catch (Exception e) {
                // closing: nothing left to do
            }
        }
    }
}
