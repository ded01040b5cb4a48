package io.jobwire.worker;

import io.grpc.stub.ClientCallStreamObserver;
import io.jobwire.api.v1.Credit;
import io.jobwire.api.v1.Outcomes;
import io.jobwire.api.v1.WorkerMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a {@link Worker} sends its broker, used from the worker's loop thread only. Most messages go out
 * at once ({@link #send}); finishes and freed slots are gathered during a turn of the loop and written
 * by a flush queued behind that turn's other tasks (the handlers that finished meanwhile), so a burst of
 * finishes goes out as one {@code Outcomes} message (split to stay under the broker's inbound limit)
 * and the slots as one {@code Credit}.
 */
final class Outbox {
    private static final Logger log = LoggerFactory.getLogger(Outbox.class);
    /** Keeps each Outcomes message well under the broker's inbound limit. */
    private static final int MAX_OUTCOMES_BYTES = 1024 * 1024;

    private final Executor loop;
    private final BooleanSupplier welcomed;
    private final BooleanSupplier draining;
    private final List<WorkerMessage> finishes = new ArrayList<>();
    private int credit;
    private boolean flushQueued;
    private ClientCallStreamObserver<WorkerMessage> stream;

    /**
     * @param loop     runs the flush after the tasks already queued on the worker's loop
     * @param welcomed true while the broker has welcomed the current stream (else finishes and credit
     *                 are dropped: the next Welcome sends the held finishes again and grants afresh)
     * @param draining true once the worker takes no new jobs (no credit is sent)
     */
    Outbox(Executor loop, BooleanSupplier welcomed, BooleanSupplier draining) {
        this.loop = loop;
        this.welcomed = welcomed;
        this.draining = draining;
    }

    /** A new stream to the broker: what follows goes to it. */
    void attach(ClientCallStreamObserver<WorkerMessage> stream) {
        this.stream = stream;
    }

    /** The stream is gone (or being ended): returns it, and nothing more is sent until the next one. */
    ClientCallStreamObserver<WorkerMessage> detach() {
        ClientCallStreamObserver<WorkerMessage> gone = stream;
        stream = null;
        return gone;
    }

    /** Sends now, if there is a stream; a failed send is the stream's end, which its observer reports. */
    void send(WorkerMessage message) {
        if (stream != null) {
            try {
                stream.onNext(message);
            } catch (RuntimeException e) {
                log.debug("could not send to the broker", e);
            }
        }
    }

    /** Grants the broker {@code jobs} more jobs with the next flush. */
    void credit(int jobs) {
        if (welcomed.getAsBoolean() && !draining.getAsBoolean() && jobs > 0) {
            credit += jobs;
            queueFlush();
        }
    }

    /** Sends a Complete, Fail or Release with the others gathered on this turn of the loop. */
    void finish(WorkerMessage finish) {
        finishes.add(finish);
        queueFlush();
    }

    private void queueFlush() {
        if (!flushQueued) {
            flushQueued = true;
            loop.execute(this::flush);
        }
    }

    private void flush() {
        flushQueued = false;
        if (!welcomed.getAsBoolean()) {
            finishes.clear(); // sent again from the held jobs on the next Welcome
            credit = 0;       // granted afresh on the next Welcome
            return;
        }
        if (finishes.size() == 1) {
            send(finishes.get(0));
        } else if (!finishes.isEmpty()) {
            Outcomes.Builder outcomes = Outcomes.newBuilder();
            int bytes = 0;
            for (WorkerMessage finish : finishes) {
                if (bytes > MAX_OUTCOMES_BYTES) {
                    send(WorkerMessage.newBuilder().setOutcomes(outcomes).build());
                    outcomes = Outcomes.newBuilder();
                    bytes = 0;
                }
                bytes += finish.getSerializedSize();
                switch (finish.getKindCase()) {
                    case COMPLETE -> outcomes.addComplete(finish.getComplete());
                    case FAIL -> outcomes.addFail(finish.getFail());
                    case RELEASE -> outcomes.addRelease(finish.getRelease());
                    case AWAIT_JOBS -> send(finish); // not one of Outcomes: on its own
                    default -> throw new IllegalStateException("not a finish: " + finish.getKindCase());
                }
            }
            send(WorkerMessage.newBuilder().setOutcomes(outcomes).build());
        }
        finishes.clear();
        if (credit > 0 && !draining.getAsBoolean()) {
            send(WorkerMessage.newBuilder().setCredit(Credit.newBuilder().setJobs(credit)).build());
        }
        credit = 0;
    }
}
