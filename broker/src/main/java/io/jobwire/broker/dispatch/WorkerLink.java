package io.jobwire.broker.dispatch;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.jobwire.api.v1.BrokerMessage;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;

/**
 * The broker's end of one worker stream, and the only holder of its response observer: every message to
 * the worker goes through {@link #send}, in order, and the stream is closed in one place. While gRPC says
 * the transport is not ready (the worker reads slower than we write), messages wait in a queue here
 * instead of gRPC's unbounded buffer, and the link is <em>busy</em>: the dispatcher claims nothing for the
 * stream and the stream reads no more of the worker's messages until the queue has drained. So what waits
 * is at most one claim's jobs and the acks of the messages already read, and a worker that reads nothing
 * for a while is ended ({@link SessionRegistry#endStalled}).
 *
 * <p>Thread-safe: the stream's callbacks, the dispatcher, the commit threads (acks) and the change bus
 * (cancellations) all send.
 */
public final class WorkerLink {
    private final ServerCallStreamObserver<BrokerMessage> out;
    private final Clock clock;
    private final ArrayDeque<BrokerMessage> queue = new ArrayDeque<>();
    /** Since when messages have waited for the transport; null while none wait. */
    private Instant waitingSince;
    private boolean closed;
    private volatile Runnable whenWritable = () -> { };

    /**
     * Takes over the call's observer; construct it in the service method. The worker's messages are read
     * one at a time, when asked for with {@link #readNext}.
     *
     * @param onCancel runs when the worker (or the transport) ends the call
     */
    public WorkerLink(ServerCallStreamObserver<BrokerMessage> out, Clock clock, Runnable onCancel) {
        this.out = out;
        this.clock = clock;
        out.disableAutoRequest();
        out.setOnReadyHandler(this::onTransportReady);
        out.setOnCancelHandler(() -> {
            markClosed();
            onCancel.run();
        });
    }

    /** Asks gRPC for the worker's next message. */
    public void readNext() {
        out.request(1);
    }

    /** What to do each time the link can take messages again (the transport is ready and nothing waits). */
    public void whenWritable(Runnable action) {
        this.whenWritable = action;
    }

    /** Sends, or queues until the transport is ready; false (and nothing sent) once the link is closed. */
    public synchronized boolean send(BrokerMessage message) {
        if (closed) {
            return false;
        }
        queue.add(message);
        drain();
        return !closed;
    }

    /** True when a message sent now goes straight out: open, nothing waiting, the transport ready. */
    public synchronized boolean isWritable() {
        return !closed && queue.isEmpty() && out.isReady();
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    /** How long messages have waited for the worker to read, as of {@code now}; zero when none wait. */
    public synchronized Duration waitingFor(Instant now) {
        return waitingSince == null ? Duration.ZERO : Duration.between(waitingSince, now);
    }

    /** Ends the stream from the broker's side with {@code status} (OK completes it); what waits is dropped. */
    public synchronized void end(Status status) {
        if (closed) {
            return;
        }
        markClosed();
        try {
            if (status.isOk()) {
                out.onCompleted();
            } else {
                out.onError(status.asRuntimeException());
            }
        } catch (IllegalStateException alreadyClosed) {
            // the call ended under us
        }
    }

    /** The stream ended from the worker's side (or the transport's): nothing more is sent. */
    public synchronized void markClosed() {
        closed = true;
        queue.clear();
        waitingSince = null;
    }

    private void onTransportReady() {
        boolean writable;
        synchronized (this) {
            drain();
            writable = !closed && queue.isEmpty();
        }
        if (writable) {
            whenWritable.run();
        }
    }

    /** Sends what waits while the transport takes it (guarded by this). */
    private void drain() {
        try {
            while (!queue.isEmpty() && out.isReady()) {
                out.onNext(queue.poll());
            }
        } catch (IllegalStateException | io.grpc.StatusRuntimeException e) {
            markClosed(); // the call ended under us (cancelled by the worker or the transport)
            return;
        }
        if (queue.isEmpty()) {
            waitingSince = null;
        } else if (waitingSince == null) {
            waitingSince = clock.instant();
        }
    }
}
