package io.jobwire.worker;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.util.concurrent.ThreadFactoryBuilder;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.jobwire.api.v1.Ack;
import io.jobwire.api.v1.AckAction;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.Goodbye;
import io.jobwire.api.v1.Heartbeat;
import io.jobwire.api.v1.Hello;
import io.jobwire.api.v1.JobTypeSpec;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.api.v1.ProgressUpdate;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.api.v1.WorkerServiceGrpc;
import io.jobwire.client.BrokerConnection;
import io.jobwire.client.ConnectionBuilder;
import io.jobwire.client.JobwireException;
import io.jobwire.client.JobwireClient;
import io.jobwire.worker.RunningJob.Phase;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs Jobwire jobs inside your service: it holds one stream to a broker, takes as many jobs as it has
 * free slots, runs each with its handler on its own thread, heartbeats every held lease together, and
 * reports the outcome. It reconnects by itself (to the next broker when one is gone) and keeps
 * finishing the jobs it holds.
 *
 * <pre>{@code
 * Worker worker = Worker.builder()
 *         .target("localhost:7070")
 *         .concurrency(8)
 *         .handle(JobType.of("email.send").description("Sends one email"), job -> {
 *             mailer.send(job.payload(Email.class));
 *             return Map.of("sent", true);
 *         })
 *         .start();
 * // ... on shutdown: let running jobs finish for up to 30 s, give the rest back
 * worker.shutdown(Duration.ofSeconds(30));
 * }</pre>
 *
 * <p>No static state and no {@code System.exit}: every thread it starts is named {@code jobwire-worker-*}
 * and is gone after {@link #close()}.
 */
public final class Worker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Worker.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}");
    private static final long TICK_MILLIS = 100;
    private static final long PROGRESS_EVERY_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long RESEND_AFTER_MILLIS = 1000;
    private static final String SHUTTING_DOWN = "the worker is shutting down";
    private static final java.time.Duration JOB_CLIENT_DEADLINE = java.time.Duration.ofSeconds(30);

    private record Registration(JobType type, JobHandler handler) {
    }

    private final BrokerConnection connection;
    private final String workerId;
    private final int concurrency;
    private final List<String> queues;
    private final Map<String, Registration> handlers;
    private final ObjectMapper json;
    private final Finishes finishes;
    private final LongSupplier nanoTime;
    private final Backoff backoff;
    private final java.time.Duration stopTimeout;
    private final ScheduledExecutorService loop;
    private final ExecutorService handlerThreads;
    /** What handlers returned, for the loop to take in one task per burst rather than one per job. */
    private final ConcurrentLinkedQueue<Runnable> handlerResults = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean handlerResultsQueued = new AtomicBoolean();

    // Owned by the loop thread.
    private final Map<String, RunningJob> held = new LinkedHashMap<>();
    /** The newest attempt held of each job. */
    private final Map<String, RunningJob> newestAttempt = new HashMap<>();
    private int generation;
    private boolean welcomed;
    private boolean everWelcomed;
    private int targetIndex;
    private boolean draining;
    private boolean closed;
    private ScheduledFuture<?> ticker;
    private final CompletableFuture<Void> drained = new CompletableFuture<>();
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();
    /** Completes when every thread has ended: normally after shutdown, exceptionally when refused. */
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();
    private volatile boolean connected;
    /** What goes to the broker; the loop thread only. */
    private final Outbox outbox = new Outbox(this::onLoop, () -> welcomed, () -> draining);

    private Worker(Builder builder) {
        this.connection = builder.openConnection();
        this.workerId = builder.workerId;
        this.concurrency = builder.concurrency;
        this.queues = List.copyOf(builder.queues);
        this.handlers = Map.copyOf(builder.handlers);
        this.json = builder.json;
        this.finishes = new Finishes(builder.json);
        this.nanoTime = builder.nanoTime;
        this.stopTimeout = builder.stopTimeout;
        this.backoff = new Backoff(java.time.Duration.ofMillis(100), java.time.Duration.ofSeconds(5),
                () -> ThreadLocalRandom.current().nextDouble());
        this.loop = Executors.newSingleThreadScheduledExecutor(threads("jobwire-worker-loop"));
        this.handlerThreads = Executors.newCachedThreadPool(threads("jobwire-worker-handler"));
    }

    public static Builder builder() {
        return new Builder();
    }

    private static ThreadFactory threads(String prefix) {
        return new ThreadFactoryBuilder().setNameFormat(prefix + "-%d").setDaemon(true).build();
    }

    private void begin() {
        loop.execute(this::connect);
        ticker = loop.scheduleWithFixedDelay(guarded(this::tick), TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** True while the stream to a broker is up (Welcome received). */
    public boolean isConnected() {
        return connected;
    }

    public String workerId() {
        return workerId;
    }

    /**
     * Completes when the worker has stopped and its threads are gone: normally after {@link #shutdown},
     * or with a {@link JobwireException} when the broker refused the worker for good (its token was
     * rejected, or the Hello itself), which no reconnect would change.
     *
     * <pre>{@code
     * worker.whenStopped().join(); // throws CompletionException(JobwireException) if it was refused
     * }</pre>
     */
    public CompletableFuture<Void> whenStopped() {
        return terminated.copy();
    }

    // ---------------------------------------------------------------- the stream (loop thread)

    private void connect() {
        if (closed) {
            return;
        }
        int myGeneration = ++generation;
        welcomed = false;
        // The stream's callbacks run on the loop itself: a message reaches the loop in one hand-off from
        // the transport, not two (by way of gRPC's default executor).
        WorkerServiceGrpc.WorkerServiceStub stub = WorkerServiceGrpc.newStub(connection.channel(targetIndex))
                .withExecutor(this::onLoop);
        if (connection.callCredentials() != null) {
            stub = stub.withCallCredentials(connection.callCredentials());
        }
        log.debug("worker {} connecting to {}", workerId, connection.target(targetIndex));
        stub.connect(new ClientResponseObserver<WorkerMessage, BrokerMessage>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<WorkerMessage> requestStream) {
                outbox.attach(requestStream);
            }

            @Override
            public void onNext(BrokerMessage message) {
                onMessage(myGeneration, message);
            }

            @Override
            public void onError(Throwable t) {
                onDisconnected(myGeneration, Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
                onDisconnected(myGeneration, Status.OK);
            }
        });
        outbox.send(WorkerMessage.newBuilder().setHello(hello()).build());
    }

    private Hello hello() {
        Hello.Builder hello = Hello.newBuilder().setWorkerId(workerId).setMaxConcurrency(concurrency).addAllQueues(queues)
                .setBatchAcks(true);
        handlers.values().forEach(registration -> hello.addJobTypes(JobTypeSpec.newBuilder()
                .setName(registration.type().name())
                .setDescription(registration.type().description())
                .setPayloadSchema(registration.type().payloadSchema())
                .setMaxConcurrency(registration.type().concurrency())));
        long now = nanoTime.getAsLong();
        held.values().stream().filter(job -> job.phase != Phase.STOPPING).forEach(job -> {
            hello.addHeld(job.lease);
            job.lastBeatSentNanos = now;
        });
        return hello.build();
    }

    private void onLoop(Runnable task) {
        try {
            loop.execute(guarded(task));
        } catch (RejectedExecutionException e) {
            // closed: nothing more to do
        }
    }

    /**
     * A loop task that logs what it throws: the loop's executor would keep it in a future nobody reads
     * (and a periodic task that throws never runs again).
     */
    private static Runnable guarded(Runnable task) {
        return () -> {
            try {
                task.run();
            } catch (RuntimeException | Error e) {
                log.error("a task on the worker's loop failed", e);
            }
        };
    }

    private void onMessage(int myGeneration, BrokerMessage message) {
        if (myGeneration != generation) {
            return;
        }
        switch (message.getKindCase()) {
            case WELCOME -> welcomed(message);
            case ASSIGN -> message.getAssign().getJobsList().forEach(this::start);
            case ACK -> acknowledged(message.getAck());
            case ACKS -> message.getAcks().getAcksList().forEach(this::acknowledged);
            case CANCEL_JOB -> {
                RunningJob job = held.get(key(message.getCancelJob().getJobId(), message.getCancelJob().getAttempt()));
                if (job != null) {
                    cancelled(job, (message.getCancelJob().getTimedOut() ? "timed out: " : "cancelled: ")
                            + message.getCancelJob().getReason());
                }
            }
            case DRAIN -> {
                log.info("broker {} is draining; moving to the next broker", connection.target(targetIndex));
                endStream();
                targetIndex++;
                connect();
            }
            case ERROR -> log.warn("broker refused a message: {} {}", message.getError().getCode(),
                    message.getError().getMessage());
            case KIND_NOT_SET -> { }
        }
    }

    private void welcomed(BrokerMessage message) {
        welcomed = true;
        everWelcomed = true;
        connected = true;
        backoff.reset();
        log.info("worker {} connected to {} (session {})", workerId, connection.target(targetIndex),
                message.getWelcome().getSessionId());
        for (RunningJob job : held.values()) {
            if (job.phase == Phase.FINISHING || job.phase == Phase.RELEASING) {
                sendFinish(job);
            }
        }
        if (draining) {
            outbox.send(WorkerMessage.newBuilder().setGoodbye(Goodbye.getDefaultInstance()).build());
        } else if (concurrency > held.size()) {
            outbox.credit(concurrency - held.size());
        }
    }

    private void onDisconnected(int myGeneration, Status status) {
        if (myGeneration != generation) {
            return;
        }
        outbox.detach();
        welcomed = false;
        connected = false;
        if (closed) {
            stopped.complete(null);
            return;
        }
        if (isPermanent(status)) {
            refused(status);
            return;
        }
        java.time.Duration delay = backoff.next();
        String why = JobwireException.describe(status);
        log.warn("worker {} lost its stream to {} ({}); reconnecting in {} ms", workerId,
                connection.target(targetIndex), status.getCode() + (why == null ? "" : ": " + why), delay.toMillis());
        targetIndex++;
        loop.schedule(guarded(this::connect), delay.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * The broker refused this worker itself, not a passing fault: its token (UNAUTHENTICATED,
     * PERMISSION_DENIED) or, before any Welcome, its Hello (INVALID_ARGUMENT). Reconnecting would be
     * refused the same way for ever.
     */
    private boolean isPermanent(Status status) {
        return status.getCode() == Status.Code.UNAUTHENTICATED || status.getCode() == Status.Code.PERMISSION_DENIED
                || status.getCode() == Status.Code.INVALID_ARGUMENT && !everWelcomed;
    }

    /** Stops for good: every held job is stopped (it comes back when its lease expires) and threads end. */
    private void refused(Status status) {
        String why = status.getCode() + (status.getDescription() == null ? "" : ": " + status.getDescription());
        log.error("worker {} stopped: the broker at {} refused it ({})", workerId, connection.target(targetIndex), why);
        closed = true;
        draining = true;
        if (ticker != null) {
            ticker.cancel(false);
        }
        for (RunningJob job : held.values()) {
            job.stop("the broker refused this worker: " + why);
        }
        stopped.complete(null);
        Thread teardown = new Thread(() -> {
            stopThreads();
            terminated.completeExceptionally(new JobwireException(status.getCode(),
                    "the broker refused worker " + workerId + ": " + status.getDescription(), status.asRuntimeException()));
        }, "jobwire-worker-teardown");
        teardown.setDaemon(true);
        teardown.start();
    }

    private void endStream() {
        ClientCallStreamObserver<WorkerMessage> stream = outbox.detach();
        generation++;
        welcomed = false;
        connected = false;
        if (stream != null) {
            try {
                stream.onCompleted();
            } catch (RuntimeException e) {
                log.debug("closing the stream failed", e);
            }
        }
    }

    // ---------------------------------------------------------------- jobs (loop thread)

    private void start(AssignedJob assigned) {
        RunningJob job = new RunningJob(assigned, nanoTime.getAsLong(), json, this::progress, nanoTime,
                token -> JobwireClient.over(connection.withToken(token), JOB_CLIENT_DEADLINE, json));
        RunningJob older = newestAttempt.put(job.id(), job);
        if (older != null) {
            // The broker claimed the job again: the older attempt's lease is surely gone.
            leaseLost(older, "lease lost: the job was claimed again");
        }
        held.put(key(job), job);
        Registration registration = handlers.get(assigned.getType());
        if (registration == null) {
            finishing(job, Finishes.fail(job.lease, "this worker has no handler for type " + assigned.getType(), false, null));
            return;
        }
        if (draining) {
            releasing(job);
            return;
        }
        handlerThreads.execute(() -> run(job, registration.handler()));
    }

    private static final TextMapGetter<AssignedJob> FROM_ASSIGNMENT = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(AssignedJob assigned) {
            return List.of("traceparent", "tracestate");
        }

        @Override
        public String get(AssignedJob assigned, String key) {
            String value = assigned == null ? "" : key.equals("traceparent") ? assigned.getTraceParent()
                    : key.equals("tracestate") ? assigned.getTraceState() : "";
            return value.isEmpty() ? null : value;
        }
    };

    /**
     * Runs the handler in a span {@code jobwire process <type>}, a child of the trace context the job came
     * with (the producer's), and current while it runs: the handler's own spans and the jobs it submits
     * continue the trace. Without a trace context, or without an OpenTelemetry SDK, just runs it.
     */
    private WorkerMessage traced(JobHandler handler, RunningJob job) {
        AssignedJob assigned = job.job;
        if (assigned.getTraceParent().isEmpty()) {
            return finishes.run(handler, job);
        }
        OpenTelemetry openTelemetry = connection.openTelemetry();
        Context parent = openTelemetry.getPropagators().getTextMapPropagator().extract(Context.root(), assigned, FROM_ASSIGNMENT);
        Span span = openTelemetry.getTracer("io.jobwire.worker").spanBuilder("jobwire process " + assigned.getType())
                .setSpanKind(SpanKind.CONSUMER)
                .setParent(parent)
                .setAttribute("messaging.system", "jobwire")
                .setAttribute("messaging.operation.type", "process")
                .setAttribute("messaging.destination.name", assigned.getQueue())
                .setAttribute("messaging.message.id", assigned.getLease().getJobId())
                .setAttribute("jobwire.job.type", assigned.getType())
                .setAttribute("jobwire.job.attempt", assigned.getLease().getAttempt())
                .setAttribute("jobwire.worker.id", workerId)
                .startSpan();
        try (Scope scope = span.makeCurrent()) {
            WorkerMessage finish = finishes.run(handler, job);
            if (finish.hasFail()) {
                span.setStatus(StatusCode.ERROR, finish.getFail().getError());
            }
            return finish;
        } finally {
            span.end();
        }
    }

    /** Runs on a handler thread. */
    private void run(RunningJob job, JobHandler handler) {
        WorkerMessage finish = null;
        if (job.enter(Thread.currentThread())) {
            try {
                finish = traced(handler, job);
            } finally {
                job.leave();
            }
        }
        WorkerMessage outcome = job.stopped() ? null : finish;
        handlerResults.add(() -> handlerDone(job, outcome));
        if (handlerResultsQueued.compareAndSet(false, true)) {
            onLoop(this::takeHandlerResults);
        }
    }

    /** On the loop: every handler result that arrived since the last time. */
    private void takeHandlerResults() {
        handlerResultsQueued.set(false); // before polling: a result added after this queues another turn
        for (Runnable result = handlerResults.poll(); result != null; result = handlerResults.poll()) {
            result.run();
        }
    }

    // ---------------------------------------------------------------- a job's life (loop thread)
    // Each event below moves a held job from one Phase to the next; nothing else sets job.phase.

    /** Its handler returned ({@code finish} null if it was stopped). */
    private void handlerDone(RunningJob job, WorkerMessage finish) {
        switch (job.phase) {
            case RUNNING -> {
                if (finish == null) {
                    forget(job);
                } else {
                    finishing(job, finish);
                }
            }
            case RELEASE_WHEN_STOPPED -> releasing(job);
            case STOPPING -> forget(job);
            case FINISHING, RELEASING -> { } // not reached: these begin once the handler has returned
        }
    }

    /** The handler's outcome goes to the broker (now, or after the next Welcome). */
    private void finishing(RunningJob job, WorkerMessage finish) {
        job.phase = Phase.FINISHING;
        job.finish = finish;
        if (welcomed) {
            sendFinish(job);
        }
    }

    /** The job goes back to the broker unfinished, to run elsewhere at once. */
    private void releasing(RunningJob job) {
        job.phase = Phase.RELEASING;
        job.finish = Finishes.release(job.lease, SHUTTING_DOWN);
        job.unsentProgress = null;
        if (welcomed) {
            sendFinish(job);
        }
    }

    /** The broker said the lease is no longer ours, or it ran out here: the handler is told to stop. */
    private void leaseLost(RunningJob job, String reason) {
        if (job.phase.running()) {
            job.stop(reason);
            job.phase = Phase.STOPPING;
        }
    }

    /**
     * Cancelled, or past its run timeout: a running handler is told to stop; an outcome not yet accepted
     * no longer matters.
     */
    private void cancelled(RunningJob job, String reason) {
        if (job.phase.running()) {
            job.stop(reason);
            job.phase = Phase.STOPPING;
        } else if (job.phase == Phase.FINISHING) {
            forget(job);
        }
    }

    /** Shutting down and the drain timeout has passed: stop the handler, give the job back when it returns. */
    private void stoppedAtShutdown(RunningJob job) {
        if (job.phase == Phase.RUNNING) {
            job.stop(SHUTTING_DOWN);
            job.phase = Phase.RELEASE_WHEN_STOPPED;
        }
    }

    /**
     * Sends a job's outcome, preceded by the last progress the handler reported if the 100 ms pacing still
     * held it back: a handler's final report is part of the job's record, not a hint to be dropped.
     */
    private void sendFinish(RunningJob job) {
        if (job.unsentProgress != null && job.phase == Phase.FINISHING) {
            sendProgress(job, job.unsentProgress, nanoTime.getAsLong());
        }
        outbox.finish(job.finish);
    }

    private void forget(RunningJob job) {
        if (held.remove(key(job)) != job) {
            return;
        }
        newestAttempt.remove(job.id(), job);
        if (draining) {
            if (held.isEmpty()) {
                drained.complete(null);
            }
        } else {
            outbox.credit(1);
        }
    }

    private static String key(String jobId, int attempt) {
        return jobId + "#" + attempt;
    }

    private static String key(RunningJob job) {
        return key(job.id(), job.attempt());
    }

    private void acknowledged(Ack ack) {
        RunningJob job = held.get(key(ack.getJobId(), ack.getAttempt()));
        if (job == null) {
            return;
        }
        switch (ack.getAction()) {
            case ACK_ACTION_COMPLETE, ACK_ACTION_FAIL, ACK_ACTION_RELEASE, ACK_ACTION_AWAIT -> {
                if (ack.getStatus() == AckStatus.ACK_STATUS_UNAVAILABLE) {
                    loop.schedule(guarded(() -> {
                        if (held.get(key(job)) == job && welcomed
                                && (job.phase == Phase.FINISHING || job.phase == Phase.RELEASING)) {
                            sendFinish(job);
                        }
                    }), RESEND_AFTER_MILLIS, TimeUnit.MILLISECONDS);
                    return;
                }
                if (ack.getStatus() != AckStatus.ACK_STATUS_ACCEPTED) {
                    log.warn("job {}: the broker refused the outcome ({}: {})", job.id(), ack.getStatus(), ack.getMessage());
                }
                forget(job);
            }
            case ACK_ACTION_HEARTBEAT, ACK_ACTION_PROGRESS -> {
                switch (ack.getStatus()) {
                    case ACK_STATUS_ACCEPTED -> job.deadlineNanos = Math.max(job.deadlineNanos,
                            job.lastBeatSentNanos + job.leaseNanos);
                    case ACK_STATUS_LEASE_LOST, ACK_STATUS_NOT_FOUND -> leaseLost(job, "lease lost: " + ack.getMessage());
                    case ACK_STATUS_CANCELLED -> leaseLost(job, "cancelled");
                    case ACK_STATUS_UNAVAILABLE -> {
                        // The database could not take it: the last report is sent again (with the next tick,
                        // or ahead of the outcome), unless a newer one is waiting already.
                        if (ack.getAction() == AckAction.ACK_ACTION_PROGRESS && job.unsentProgress == null
                                && (job.phase.running() || job.phase == Phase.FINISHING)) {
                            job.unsentProgress = job.lastSentProgress;
                        }
                    }
                    case ACK_STATUS_INVALID -> log.warn("job {}: {}", job.id(), ack.getMessage());
                    default -> { }
                }
            }
            default -> { }
        }
    }

    /** Called from handler threads; sent from the loop, at most every 100 ms per job. */
    private void progress(RunningJob job, float percent, String message, String details) {
        RunningJob.Progress report = new RunningJob.Progress(percent, message, details);
        onLoop(() -> {
            if (held.get(key(job)) != job || !job.phase.running()) {
                return;
            }
            long now = nanoTime.getAsLong();
            if (welcomed && now - job.lastBeatSentNanos >= PROGRESS_EVERY_NANOS) {
                sendProgress(job, report, now);
            } else {
                job.unsentProgress = report;
            }
        });
    }

    private void sendProgress(RunningJob job, RunningJob.Progress report, long now) {
        job.unsentProgress = null;
        job.lastSentProgress = report;
        job.lastBeatSentNanos = now;
        job.nextBeatNanos = now + job.leaseNanos / 3;
        outbox.send(WorkerMessage.newBuilder().setProgress(ProgressUpdate.newBuilder().setLease(job.lease)
                .setPercent(Math.max(0, Math.min(100, report.percent()))).setMessage(report.message())
                .setDetails(report.details())).build());
    }

    /** Every 100 ms: stop jobs whose lease ran out locally, send due heartbeats and held-back progress. */
    private void tick() {
        long now = nanoTime.getAsLong();
        List<LeaseRef> due = new ArrayList<>();
        for (RunningJob job : List.copyOf(held.values())) {
            if (!job.phase.heartbeats()) {
                continue;
            }
            if (job.phase.running() && now - job.deadlineNanos >= 0) {
                log.warn("job {}: no heartbeat got through before its lease ran out; stopping it", job.id());
                leaseLost(job, "lease lost: no heartbeat reached the broker before the lease ran out");
                continue;
            }
            if (!welcomed) {
                continue;
            }
            if (job.unsentProgress != null && job.phase.running()) {
                sendProgress(job, job.unsentProgress, now);
            } else if (now - job.nextBeatNanos >= 0) {
                job.lastBeatSentNanos = now;
                job.nextBeatNanos = now + job.leaseNanos / 3;
                due.add(job.lease);
            }
        }
        if (!due.isEmpty()) {
            outbox.send(WorkerMessage.newBuilder().setHeartbeat(Heartbeat.newBuilder().addAllLeases(due)).build());
        }
    }

    // ---------------------------------------------------------------- shutdown

    /**
     * Drains: takes no new jobs, lets running ones finish until {@code timeout}, then stops the rest
     * (their handlers are interrupted) and gives them back to the broker at once, so they run again
     * elsewhere without waiting for their leases to expire. Then closes the stream and every thread.
     */
    public void shutdown(java.time.Duration timeout) {
        Boolean first = callOnLoop(() -> {
            if (draining) {
                return false;
            }
            draining = true;
            if (welcomed) {
                outbox.send(WorkerMessage.newBuilder().setGoodbye(Goodbye.getDefaultInstance()).build());
            }
            if (held.isEmpty()) {
                drained.complete(null);
            }
            return true;
        });
        if (first == null || !first) {
            awaitQuietly(stopped, timeout.plusSeconds(5));
            return;
        }
        if (!awaitQuietly(drained, timeout)) {
            // Each stopped job is given back once its handler has returned (see handlerDone): released
            // while its handler still ran, it could run twice at once. A handler that outlives the stop
            // timeout keeps its job, which comes back when its lease expires, as if this worker had died.
            callOnLoop(() -> {
                held.values().forEach(this::stoppedAtShutdown);
                return null;
            });
            awaitQuietly(drained, stopTimeout);
        }
        callOnLoop(() -> {
            closed = true;
            if (ticker != null) {
                ticker.cancel(false);
            }
            endStream();
            stopped.complete(null);
            return null;
        });
        stopThreads();
        terminated.complete(null);
    }

    private void stopThreads() {
        loop.shutdown();
        handlerThreads.shutdownNow();
        connection.close();
        try {
            loop.awaitTermination(5, TimeUnit.SECONDS);
            handlerThreads.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** {@link #shutdown(java.time.Duration)} with 10 seconds for running jobs. Safe to call twice. */
    @Override
    public void close() {
        shutdown(java.time.Duration.ofSeconds(10));
    }

    private <T> T callOnLoop(java.util.concurrent.Callable<T> task) {
        try {
            return loop.submit(task).get();
        } catch (RejectedExecutionException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("worker loop failed", e.getCause());
        }
    }

    private static boolean awaitQuietly(CompletableFuture<Void> future, java.time.Duration timeout) {
        try {
            future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            return true;
        }
    }

    /** Options of a {@link Worker}. */
    public static final class Builder extends ConnectionBuilder<Builder> {
        private final List<String> queues = new ArrayList<>();
        private final Map<String, Registration> handlers = new LinkedHashMap<>();
        private String workerId = defaultWorkerId();
        private int concurrency = Runtime.getRuntime().availableProcessors();
        private ObjectMapper json = new ObjectMapper();
        private LongSupplier nanoTime = System::nanoTime;
        private java.time.Duration stopTimeout = java.time.Duration.ofSeconds(5);

        private Builder() {
        }

        private static String defaultWorkerId() {
            return ManagementFactory.getRuntimeMXBean().getName();
        }

        /** This worker's name in Stats and attempt history (default: pid@host). */
        public Builder workerId(String id) {
            this.workerId = id;
            return this;
        }

        /** How many jobs run at once (default: the number of processors). */
        public Builder concurrency(int jobs) {
            if (jobs < 1 || jobs > 10_000) {
                throw new IllegalArgumentException("concurrency must be between 1 and 10000, got " + jobs);
            }
            this.concurrency = jobs;
            return this;
        }

        /** Take jobs only from these queues (default: every queue). */
        public Builder queues(String... names) {
            for (String name : names) {
                checkName("queue", name);
                queues.add(name);
            }
            return this;
        }

        public Builder handle(String type, JobHandler handler) {
            return handle(JobType.of(type), handler);
        }

        public Builder handle(JobType type, JobHandler handler) {
            checkName("job type", type.name());
            if (handlers.putIfAbsent(type.name(), new Registration(type, handler)) != null) {
                throw new IllegalArgumentException("a handler for " + type.name() + " is already registered");
            }
            return this;
        }

        /**
         * At shutdown, how long handlers stopped after the drain timeout get to return (default 5 s). Each
         * job is given back to the broker as its handler returns; one still running after this keeps
         * its job until the lease expires, so it never runs twice at once.
         */
        public Builder stopTimeout(java.time.Duration timeout) {
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("stopTimeout must not be negative, got " + timeout);
            }
            this.stopTimeout = timeout;
            return this;
        }

        /** The Jackson mapper for payloads, results and progress details. */
        public Builder objectMapper(ObjectMapper mapper) {
            this.json = mapper;
            return this;
        }

        /** The clock behind heartbeats and lease deadlines (tests move it by hand). */
        Builder nanoTime(LongSupplier clock) {
            this.nanoTime = clock;
            return this;
        }

        private static void checkName(String what, String name) {
            if (!NAME.matcher(name).matches()) {
                throw new IllegalArgumentException(what + " must be 1-128 characters of [A-Za-z0-9_.:-] starting with a "
                        + "letter, digit or underscore, got \"" + name + "\"");
            }
        }

        private BrokerConnection openConnection() {
            return connect();
        }

        /** Connects and starts taking jobs. */
        public Worker start() {
            if (handlers.isEmpty()) {
                throw new IllegalStateException("register at least one handler before starting the worker");
            }
            Worker worker = new Worker(this);
            worker.begin();
            return worker;
        }
    }
}
