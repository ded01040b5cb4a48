package io.jobwire.broker.api;

import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import io.jobwire.broker.auth.AuthInterceptor;
import io.jobwire.broker.auth.JobTokens;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.stream.Collectors;

/**
 * Chooses where each call's handler runs, for a server built with {@code directExecutor()}: the listed
 * methods stay on the transport thread that read the request, every other method moves to a pool.
 * Only handlers that never block may be listed: Submit parses, validates and queues the job for a group
 * commit, and the answer goes out from the commit thread. On a loaded broker, handing each call to a
 * pool thread (a wake-up per call, and one more per message) cost more CPU than the handler itself.
 */
public final class InlineCalls implements ServerCallExecutorSupplier {
    private final Executor pool;
    private final Set<String> inline;

    private InlineCalls(Executor pool, Set<String> inline) {
        this.pool = pool;
        this.inline = inline;
    }

    /** Runs {@code inline} on the transport thread and everything else on {@code pool}. */
    public static InlineCalls of(Executor pool, MethodDescriptor<?, ?>... inline) {
        return new InlineCalls(pool, Arrays.stream(inline).map(MethodDescriptor::getFullMethodName)
                .collect(Collectors.toUnmodifiableSet()));
    }

    /** Whether the method runs on the transport thread. */
    public boolean isInline(String fullMethodName) {
        return inline.contains(fullMethodName);
    }

    /**
     * Null (stay on the transport thread) for the inline methods, the pool for every other, and for a call
     * with a job token, whose check reads the database.
     */
    @Override
    public <ReqT, RespT> Executor getExecutor(ServerCall<ReqT, RespT> call, Metadata metadata) {
        if (!isInline(call.getMethodDescriptor().getFullMethodName())) {
            return pool;
        }
        String token = AuthInterceptor.bearer(metadata);
        return token != null && JobTokens.isJobToken(token) ? pool : null;
    }
}
