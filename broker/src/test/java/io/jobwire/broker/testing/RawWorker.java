package io.jobwire.broker.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.jobwire.api.v1.Ack;
import io.jobwire.api.v1.AckAction;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.Complete;
import io.jobwire.api.v1.Credit;
import io.jobwire.api.v1.Fail;
import io.jobwire.api.v1.Goodbye;
import io.jobwire.api.v1.Heartbeat;
import io.jobwire.api.v1.Hello;
import io.jobwire.api.v1.JobTypeSpec;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.api.v1.ProgressUpdate;
import io.jobwire.api.v1.ReleaseJob;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.api.v1.WorkerServiceGrpc;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A worker speaking the raw protocol, for tests that need exact control of every message. Everything
 * the broker sends lands in one queue; the await methods take the next matching message from it and
 * fail the test when none arrives in time.
 */
public final class RawWorker implements AutoCloseable {
    public static final Duration WAIT = Duration.ofSeconds(30);

    private final BlockingQueue<BrokerMessage> inbox = new LinkedBlockingQueue<>();
    private final List<BrokerMessage> skipped = new ArrayList<>();
    private final CompletableFuture<Status> closed = new CompletableFuture<>();
    private ClientCallStreamObserver<WorkerMessage> out;

    private RawWorker() {
    }

    /** Opens a stream without saying anything yet. */
    public static RawWorker open(WorkerServiceGrpc.WorkerServiceStub stub) {
        return open(stub, -1);
    }

    /**
     * Opens a stream, says Hello and reads the Welcome, then reads nothing more: a worker that stopped
     * reading (what the broker sends waits in the transport and then in the broker).
     */
    public static RawWorker connectThenStopReading(WorkerServiceGrpc.WorkerServiceStub stub, String workerId,
                                                   int concurrency, String... types) {
        RawWorker worker = open(stub, 1);
        worker.send(WorkerMessage.newBuilder().setHello(hello(workerId, concurrency, types)).build());
        worker.await(BrokerMessage::hasWelcome);
        return worker;
    }

    /** @param messages how many messages to read; negative: all */
    private static RawWorker open(WorkerServiceGrpc.WorkerServiceStub stub, int messages) {
        RawWorker worker = new RawWorker();
        stub.connect(new ClientResponseObserver<WorkerMessage, BrokerMessage>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<WorkerMessage> requestStream) {
                worker.out = requestStream;
                if (messages >= 0) {
                    requestStream.disableAutoRequestWithInitial(messages);
                }
            }

            @Override
            public void onNext(BrokerMessage message) {
                worker.inbox.add(message);
            }

            @Override
            public void onError(Throwable t) {
                worker.closed.complete(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
                worker.closed.complete(Status.OK);
            }
        });
        return worker;
    }

    /** Opens a stream, says Hello and waits for Welcome. */
    public static RawWorker connect(WorkerServiceGrpc.WorkerServiceStub stub, String workerId, int concurrency,
                                    String... types) {
        RawWorker worker = open(stub);
        worker.send(WorkerMessage.newBuilder().setHello(hello(workerId, concurrency, types)).build());
        worker.await(BrokerMessage::hasWelcome);
        return worker;
    }

    /** Opens a stream, says this Hello and waits for Welcome. */
    public static RawWorker connect(WorkerServiceGrpc.WorkerServiceStub stub, Hello hello) {
        RawWorker worker = open(stub);
        worker.send(WorkerMessage.newBuilder().setHello(hello).build());
        worker.await(BrokerMessage::hasWelcome);
        return worker;
    }

    public static Hello hello(String workerId, int concurrency, String... types) {
        Hello.Builder hello = Hello.newBuilder().setWorkerId(workerId).setMaxConcurrency(concurrency);
        Arrays.stream(types).forEach(type -> hello.addJobTypes(JobTypeSpec.newBuilder().setName(type)));
        return hello.build();
    }

    public synchronized void send(WorkerMessage message) {
        out.onNext(message);
    }

    public void credit(int jobs) {
        send(WorkerMessage.newBuilder().setCredit(Credit.newBuilder().setJobs(jobs)).build());
    }

    /** Grants {@code n} credits and waits until {@code n} jobs were assigned. */
    public List<AssignedJob> take(int n) {
        credit(n);
        return awaitJobs(n);
    }

    /** Waits until {@code n} jobs were assigned (across Assign messages). */
    public List<AssignedJob> awaitJobs(int n) {
        List<AssignedJob> jobs = new ArrayList<>();
        while (jobs.size() < n) {
            jobs.addAll(await(BrokerMessage::hasAssign).getAssign().getJobsList());
        }
        assertThat(jobs).hasSize(n);
        return jobs;
    }

    public Ack complete(LeaseRef lease, String result) {
        send(WorkerMessage.newBuilder().setComplete(Complete.newBuilder().setLease(lease).setResult(result)).build());
        return awaitAck(lease.getJobId(), AckAction.ACK_ACTION_COMPLETE);
    }

    public Ack fail(LeaseRef lease, String error, boolean retryable) {
        send(WorkerMessage.newBuilder().setFail(Fail.newBuilder().setLease(lease).setError(error)
                .setRetryable(retryable)).build());
        return awaitAck(lease.getJobId(), AckAction.ACK_ACTION_FAIL);
    }

    public Ack fail(Fail fail) {
        send(WorkerMessage.newBuilder().setFail(fail).build());
        return awaitAck(fail.getLease().getJobId(), AckAction.ACK_ACTION_FAIL);
    }

    public Ack release(LeaseRef lease) {
        send(WorkerMessage.newBuilder().setRelease(ReleaseJob.newBuilder().setLease(lease)).build());
        return awaitAck(lease.getJobId(), AckAction.ACK_ACTION_RELEASE);
    }

    public Ack heartbeat(LeaseRef lease) {
        send(WorkerMessage.newBuilder().setHeartbeat(Heartbeat.newBuilder().addLeases(lease)).build());
        return awaitAck(lease.getJobId(), AckAction.ACK_ACTION_HEARTBEAT);
    }

    public Ack progress(LeaseRef lease, float percent, String message, String details) {
        send(WorkerMessage.newBuilder().setProgress(ProgressUpdate.newBuilder().setLease(lease)
                .setPercent(percent).setMessage(message).setDetails(details)).build());
        return awaitAck(lease.getJobId(), AckAction.ACK_ACTION_PROGRESS);
    }

    public void goodbye(LeaseRef... release) {
        send(WorkerMessage.newBuilder().setGoodbye(Goodbye.newBuilder().addAllRelease(Arrays.asList(release))).build());
    }

    public Ack awaitAck(String jobId, AckAction action) {
        return await(m -> m.hasAck() && m.getAck().getJobId().equals(jobId) && m.getAck().getAction() == action)
                .getAck();
    }

    /** The next message matching {@code filter}; others are kept aside for later awaits. */
    public BrokerMessage await(Predicate<BrokerMessage> filter) {
        return await(filter, WAIT);
    }

    public synchronized BrokerMessage await(Predicate<BrokerMessage> filter, Duration wait) {
        for (int i = 0; i < skipped.size(); i++) {
            if (filter.test(skipped.get(i))) {
                return skipped.remove(i);
            }
        }
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            BrokerMessage message;
            try {
                message = left <= 0 ? null : inbox.poll(left, TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for a broker message", e);
            }
            if (message == null) {
                throw new AssertionError("no matching broker message within " + wait + "; got meanwhile " + skipped.size()
                        + " others" + (skipped.isEmpty() ? "" : ", the last: " + skipped.get(skipped.size() - 1)));
            }
            if (filter.test(message)) {
                return message;
            }
            skipped.add(message);
        }
    }

    /** True if a matching message arrives within {@code wait} (kept aside if it does not match). */
    public boolean receives(Predicate<BrokerMessage> filter, Duration wait) {
        try {
            BrokerMessage message = await(filter, wait);
            skipped.add(0, message);
            return true;
        } catch (AssertionError e) {
            return false;
        }
    }

    /** The status the broker closed the stream with, waiting for it. */
    public Status awaitClosed() {
        try {
            return closed.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            throw new AssertionError("the stream did not close within " + WAIT, e);
        }
    }

    public boolean isClosed() {
        return closed.isDone();
    }

    /** Ends the stream from the worker side (half-close), like a clean disconnect. */
    public synchronized void halfClose() {
        if (!closed.isDone()) {
            out.onCompleted();
        }
    }

    /** Drops the stream abruptly, like a crashed worker. */
    public synchronized void cancel() {
        if (!closed.isDone()) {
            out.cancel("worker crashed", null);
        }
    }

    @Override
    public void close() {
        cancel();
    }
}
