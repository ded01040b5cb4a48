package io.jobwire.broker.api;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.jobwire.broker.metrics.BrokerMetrics;

/** Counts every call the broker answers, by method and status (refusals of the token check included). */
public final class CallMetrics implements ServerInterceptor {
    private final BrokerMetrics metrics;

    public CallMetrics(BrokerMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                metrics.grpcCall(method, status.getCode().name());
                super.close(status, trailers);
            }
        }, headers);
    }
}
