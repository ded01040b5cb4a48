package io.jobwire.broker.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.api.v1.WorkerServiceGrpc;

/** WorkerService: each Connect becomes a {@link WorkerStream}. */
public final class WorkerServiceImpl extends WorkerServiceGrpc.WorkerServiceImplBase {
    private final WorkerStream.Context context;

    WorkerServiceImpl(WorkerStream.Context context) {
        this.context = context;
    }

    @Override
    public StreamObserver<WorkerMessage> connect(StreamObserver<BrokerMessage> responseObserver) {
        return new WorkerStream(context, (ServerCallStreamObserver<BrokerMessage>) responseObserver);
    }
}
