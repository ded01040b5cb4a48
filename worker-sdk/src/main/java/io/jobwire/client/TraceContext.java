package io.jobwire.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.context.Context;
import java.util.function.Supplier;

/**
 * Sends the caller's OpenTelemetry context with every JobService call (W3C {@code traceparent} and
 * {@code tracestate} metadata, by the application's propagators), so a job submitted inside a span keeps
 * that trace and its handler runs in it. Without an OpenTelemetry SDK in the application nothing is sent.
 */
final class TraceContext implements ClientInterceptor {
    private static final String JOB_SERVICE = "jobwire.v1.JobService";
    private final Supplier<OpenTelemetry> openTelemetry;

    TraceContext(OpenTelemetry given) {
        // the global instance is looked up per call, so an SDK installed after the client is made counts
        this.openTelemetry = given != null ? () -> given : GlobalOpenTelemetry::getOrNoop;
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        ClientCall<Q, R> call = next.newCall(method, options);
        if (!JOB_SERVICE.equals(method.getServiceName())) {
            return call;
        }
        return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
            @Override
            public void start(Listener<R> listener, Metadata headers) {
                openTelemetry.get().getPropagators().getTextMapPropagator().inject(Context.current(), headers,
                        (carrier, key, value) -> carrier.put(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER), value));
                super.start(listener, headers);
            }
        };
    }
}
