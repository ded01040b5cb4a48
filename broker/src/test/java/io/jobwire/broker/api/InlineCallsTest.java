package io.jobwire.broker.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.MethodDescriptor;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.WorkerServiceGrpc;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

/** Only the listed, non-blocking methods stay on the transport thread; everything else goes to the pool. */
class InlineCallsTest {
    private final Executor pool = Runnable::run;
    private final InlineCalls calls = InlineCalls.of(pool, JobServiceGrpc.getSubmitMethod());

    @Test
    void submitStaysOnTheTransportThread() {
        assertThat(calls.isInline(JobServiceGrpc.getSubmitMethod().getFullMethodName())).isTrue();
    }

    @Test
    void methodsThatMayBlockMoveToThePool() {
        for (MethodDescriptor<?, ?> method : new MethodDescriptor<?, ?>[] {
                JobServiceGrpc.getSubmitBatchMethod(), JobServiceGrpc.getGetMethod(), JobServiceGrpc.getListMethod(),
                JobServiceGrpc.getCancelMethod(), JobServiceGrpc.getWatchMethod(), JobServiceGrpc.getStatsMethod(),
                WorkerServiceGrpc.getConnectMethod()}) {
            assertThat(calls.isInline(method.getFullMethodName())).as(method.getFullMethodName()).isFalse();
        }
    }
}
