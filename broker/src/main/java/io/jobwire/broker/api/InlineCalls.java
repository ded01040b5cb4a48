package io.jobwire.broker.api;

import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.stream.Collectors;

/**
 * Runs the handlers of some methods on the transport thread that read the request, instead of handing
 * each call to the server's executor. Only for handlers that never block: Submit parses, validates and
 * queues the job for a group commit, and the answer goes out from the commit thread. On a loaded broker
 * the hand-off (a thread wake-up per call) cost more CPU than the handler itself.
 */
public final class InlineCalls implements ServerCallExecutorSupplier {
    private static final Executor INLINE = Runnable::run;

    private final Set<String> methods;

    private InlineCalls(Set<String> methods) {
        this.methods = methods;
    }

    public static InlineCalls of(MethodDescriptor<?, ?>... methods) {
        return new InlineCalls(java.util.Arrays.stream(methods).map(MethodDescriptor::getFullMethodName)
                .collect(Collectors.toUnmodifiableSet()));
    }

    /** The inline executor for the listed methods; null (the server's executor) for every other. */
    @Override
    public <ReqT, RespT> Executor getExecutor(ServerCall<ReqT, RespT> call, Metadata metadata) {
        return methods.contains(call.getMethodDescriptor().getFullMethodName()) ? INLINE : null;
    }
}
