package io.jobwire.worker;

import com.google.protobuf.Duration;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.jobwire.api.v1.Ack;
import io.jobwire.api.v1.AckAction;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.Assign;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.api.v1.Welcome;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.api.v1.WorkerServiceGrpc;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A broker played by the test: a real gRPC server on a loopback port that records what a {@link Worker}
 * sends and answers only what the test tells it to. For the worker's own logic (its job life, pacing
 * and timing), where a real broker would decide the answers by itself.
 */
final class ScriptedBroker implements AutoCloseable {
    /** Generous: waits end as soon as the message arrives. */
    private static final long WAIT_SECONDS = 30;

    private final BlockingQueue<WorkerMessage> received = new LinkedBlockingQueue<>();
    private volatile StreamObserver<BrokerMessage> toWorker;
    private final Server server;

    ScriptedBroker() throws IOException {
        server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .addService(new WorkerServiceGrpc.WorkerServiceImplBase() {
                    @Override
                    public StreamObserver<WorkerMessage> connect(StreamObserver<BrokerMessage> responses) {
                        toWorker = responses;
                        return new StreamObserver<>() {
                            @Override
                            public void onNext(WorkerMessage message) {
                                received.add(message);
                            }

                            @Override
                            public void onError(Throwable t) {
                            }

                            @Override
                            public void onCompleted() {
                                responses.onCompleted();
                            }
                        };
                    }
                }).build().start();
    }

    String target() {
        return "127.0.0.1:" + server.getPort();
    }

    /** The next message the worker sends, which must be of this kind. */
    WorkerMessage next(WorkerMessage.KindCase kind) throws InterruptedException {
        WorkerMessage message = received.poll(WAIT_SECONDS, TimeUnit.SECONDS);
        if (message == null) {
            throw new AssertionError("the worker sent nothing in " + WAIT_SECONDS + " s; expected " + kind);
        }
        if (message.getKindCase() != kind) {
            throw new AssertionError("expected " + kind + " from the worker, got " + message);
        }
        return message;
    }

    /** Skips heartbeats (sent whenever the worker's clock says so) and returns the next other message. */
    WorkerMessage nextBesidesHeartbeats() throws InterruptedException {
        while (true) {
            WorkerMessage message = received.poll(WAIT_SECONDS, TimeUnit.SECONDS);
            if (message == null) {
                throw new AssertionError("the worker sent nothing but heartbeats in " + WAIT_SECONDS + " s");
            }
            if (message.getKindCase() != WorkerMessage.KindCase.HEARTBEAT) {
                return message;
            }
        }
    }

    /** Waits for the worker's Hello, welcomes it and takes the credit it grants. */
    void welcome() throws InterruptedException {
        next(WorkerMessage.KindCase.HELLO);
        send(BrokerMessage.newBuilder().setWelcome(Welcome.newBuilder().setSessionId("scripted")
                .setBrokerId("scripted")).build());
        next(WorkerMessage.KindCase.CREDIT);
    }

    /** Hands the worker a job with this lease duration; returns its lease. */
    LeaseRef assign(String id, String type, long leaseSeconds) {
        LeaseRef lease = LeaseRef.newBuilder().setJobId(id).setAttempt(1).setLeaseToken("token-" + id).build();
        send(BrokerMessage.newBuilder().setAssign(Assign.newBuilder().addJobs(AssignedJob.newBuilder()
                .setLease(lease).setType(type).setPayload("{}").setMaxAttempts(3)
                .setLeaseDuration(Duration.newBuilder().setSeconds(leaseSeconds)))).build());
        return lease;
    }

    void ack(LeaseRef lease, AckAction action, AckStatus status) {
        send(BrokerMessage.newBuilder().setAck(Ack.newBuilder().setJobId(lease.getJobId()).setAttempt(lease.getAttempt())
                .setAction(action).setStatus(status).setMessage(status.name())).build());
    }

    void send(BrokerMessage message) {
        synchronized (this) {
            toWorker.onNext(message);
        }
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        server.awaitTermination(10, TimeUnit.SECONDS);
    }
}
