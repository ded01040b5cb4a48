package io.jobwire.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.jobwire.api.v1.CallbackDelivery;
import io.jobwire.api.v1.CallbackSecret;
import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.GetCallbackSecretRequest;
import io.jobwire.api.v1.ListCallbacksRequest;
import io.jobwire.api.v1.ListCallbacksResponse;
import io.jobwire.api.v1.RedeliverCallbackRequest;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.HoldRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobTypeInfo;
import io.jobwire.api.v1.DeleteQuotaRequest;
import io.jobwire.api.v1.GetJobTypeRequest;
import io.jobwire.api.v1.ListQuotasRequest;
import io.jobwire.api.v1.Quota;
import io.jobwire.api.v1.QuotaUsage;
import io.jobwire.api.v1.SetQuotaRequest;
import io.jobwire.api.v1.JobTypeRegistration;
import io.jobwire.api.v1.ListJobTypesRequest;
import io.jobwire.api.v1.RegisterJobTypeRequest;
import io.jobwire.api.v1.UnregisterJobTypeRequest;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.ListResponse;
import io.jobwire.api.v1.ReleaseRequest;
import io.jobwire.api.v1.RetryRequest;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.StatsResponse;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.SubmitResponse;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * Submits, inspects and watches Jobwire jobs. Thread-safe; make one and share it.
 *
 * <pre>{@code
 * try (JobwireClient client = JobwireClient.connect("localhost:7070")) {
 *     Job job = client.submit("email.send", Map.of("to", "ada@example.com"));
 *     Job done = client.submitAndWait(JobSpec.newBuilder().setType("report.build").build(),
 *             Duration.ofMinutes(5), progress -> System.out.println(progress.getProgress().getPercent()));
 *     System.out.println(done.getResult());
 * }
 * }</pre>
 *
 * <p>With several targets, a call that finds its broker unavailable moves to the next one. Reads are
 * retried there; a submit only when it carries an idempotency key (otherwise a retry could create a
 * second job); other writes are not retried, and their {@code UNAVAILABLE} reaches you.
 */
public final class JobwireClient implements AutoCloseable {
    private final BrokerConnection connection;
    private final Duration deadline;
    private final ObjectMapper json;
    private volatile int current;

    private JobwireClient(Builder builder) {
        this(builder.connect(), builder.deadline, builder.json);
    }

    private JobwireClient(BrokerConnection connection, Duration deadline, ObjectMapper json) {
        this.connection = connection;
        this.deadline = deadline;
        this.json = json;
    }

    /**
     * A client over an existing connection (closing the client closes it). With {@link
     * BrokerConnection#withToken}, a client acting with another token over the same channels: that is
     * how a handler's {@code JobContext.client()} acts with its job token.
     */
    public static JobwireClient over(BrokerConnection connection, Duration perCallDeadline, ObjectMapper json) {
        return new JobwireClient(connection, perCallDeadline, json);
    }

    /** A client for one broker, plaintext, default options. */
    public static JobwireClient connect(String target) {
        return builder().target(target).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    // ---------------------------------------------------------------- submit

    /** Submits one job. The response says whether it was created or found by its idempotency key. */
    public SubmitResponse submit(JobSpec spec) {
        boolean retryable = !spec.getIdempotencyKey().isEmpty();
        return call(retryable, stub -> stub.submit(SubmitRequest.newBuilder().setJob(spec).build()));
    }

    /** Submits a job of {@code type}; the payload is JSON text as is, or any object Jackson can write. */
    public Job submit(String type, Object payload) {
        return submit(JobSpec.newBuilder().setType(type).setPayload(toJson(payload)).build()).getJob();
    }

    /** Submits up to 1000 jobs in one transaction: all or none. Results are in request order. */
    public List<SubmitResponse> submitBatch(List<JobSpec> specs) {
        boolean retryable = specs.stream().allMatch(spec -> !spec.getIdempotencyKey().isEmpty());
        return call(retryable, stub -> stub.submitBatch(SubmitBatchRequest.newBuilder().addAllJobs(specs).build()))
                .getResultsList();
    }

    /**
     * Submits a job and waits until it finishes: the "wait flag". {@code onProgress} (may be null) sees
     * every state the job passes through before the end. Returns the finished job (SUCCEEDED, FAILED or
     * CANCELLED). On timeout a {@link JobwireException} with DEADLINE_EXCEEDED is thrown; the job keeps
     * running.
     */
    public Job submitAndWait(JobSpec spec, Duration timeout, Consumer<Job> onProgress) {
        Instant until = Instant.now().plus(timeout);
        Job job = submit(spec).getJob();
        return awaitFinished(job.getId(), until, onProgress);
    }

    /** Waits until the job finishes, re-watching if a stream breaks. */
    public Job awaitFinished(String id, Instant until, Consumer<Job> onProgress) {
        while (true) {
            long left = Duration.between(Instant.now(), until).toMillis();
            if (left <= 0) {
                throw new JobwireException(Status.Code.DEADLINE_EXCEEDED, "job " + id + " did not finish in time", null);
            }
            Context.CancellableContext context = Context.current().withCancellation();
            try (JobWatch watch = watch(context, WatchRequest.newBuilder().addIds(id).build(), left)) {
                Job last = null;
                while (watch.hasNext()) {
                    WatchEvent event = watch.next();
                    if (!event.hasJob()) {
                        continue;
                    }
                    last = event.getJob();
                    if (isFinished(last)) {
                        return last;
                    }
                    if (onProgress != null) {
                        onProgress.accept(last);
                    }
                }
            } catch (JobwireException e) {
                if (e.code() == Status.Code.DEADLINE_EXCEEDED) {
                    throw new JobwireException(Status.Code.DEADLINE_EXCEEDED, "job " + id + " did not finish in time", e);
                }
                if (e.code() != Status.Code.UNAVAILABLE) {
                    throw e;
                }
                advance();
            }
        }
    }

    /** SUCCEEDED, FAILED or CANCELLED: nothing happens to the job any more without an explicit Retry. */
    public static boolean isFinished(Job job) {
        return switch (job.getState()) {
            case JOB_STATE_SUCCEEDED, JOB_STATE_FAILED, JOB_STATE_CANCELLED -> true;
            default -> false;
        };
    }

    // ---------------------------------------------------------------- read

    /** The job with its attempt history. */
    public Job get(String id) {
        return call(true, stub -> stub.get(GetRequest.newBuilder().setId(id).build()));
    }

    /** One page of jobs. */
    public ListResponse list(ListRequest request) {
        return call(true, stub -> stub.list(request));
    }

    /** Every job matching the request, newest first, fetching pages as the stream is consumed. */
    public Stream<Job> listAll(ListRequest request) {
        Iterator<Job> jobs = new Iterator<>() {
            private List<Job> page = List.of();
            private int index;
            private String token = request.getPageToken();
            private boolean last;

            @Override
            public boolean hasNext() {
                while (index >= page.size() && !last) {
                    ListResponse response = list(request.toBuilder().setPageToken(token).build());
                    page = response.getJobsList();
                    index = 0;
                    token = response.getNextPageToken();
                    last = token.isEmpty();
                }
                return index < page.size();
            }

            @Override
            public Job next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return page.get(index++);
            }
        };
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(jobs, Spliterator.ORDERED), false);
    }

    public StatsResponse stats() {
        return stats(StatsRequest.getDefaultInstance());
    }

    public StatsResponse stats(StatsRequest request) {
        return call(true, stub -> stub.stats(request));
    }

    /** Every job type an admin registered or a worker announced (those this client's token may use). */
    public List<JobTypeInfo> jobTypes() {
        return call(true, stub -> stub.listJobTypes(ListJobTypesRequest.getDefaultInstance())).getJobTypesList();
    }

    /** One job type; NOT_FOUND when it is neither registered nor announced. */
    public JobTypeInfo jobType(String name) {
        return call(true, stub -> stub.getJobType(GetJobTypeRequest.newBuilder().setName(name).build()));
    }

    /**
     * Registers a job type, or replaces its registration (admin token). Submits of it are then checked
     * against its payload schema and take its defaults:
     *
     * <pre>{@code
     * client.registerJobType(JobTypeRegistration.newBuilder()
     *         .setName("invoice.render")
     *         .setDescription("Renders one invoice as PDF")
     *         .setPayloadSchema("{\"type\":\"object\",\"required\":[\"invoice\"]}")
     *         .addUses("s3:invoices")
     *         .build());
     * }</pre>
     */
    public JobTypeInfo registerJobType(JobTypeRegistration registration) {
        return call(false, stub -> stub.registerJobType(RegisterJobTypeRequest.newBuilder()
                .setRegistration(registration).build()));
    }

    /**
     * Sets an owner's quota (admin token). Submits past one of its limits are refused with
     * RESOURCE_EXHAUSTED ({@link JobwireException#code()}), the batch whole:
     *
     * <pre>{@code
     * client.setQuota(Quota.newBuilder().setOwner("shop").setTypePattern("email.*")
     *         .setMaxWaiting(1000).setPerMinute(600).build());
     * }</pre>
     */
    public Quota setQuota(Quota quota) {
        return call(false, stub -> stub.setQuota(SetQuotaRequest.newBuilder().setQuota(quota).build()));
    }

    /** Removes an owner's quota for a type pattern ("*" for all its types; admin token). */
    public Quota deleteQuota(String owner, String typePattern) {
        return call(false, stub -> stub.deleteQuota(DeleteQuotaRequest.newBuilder().setOwner(owner)
                .setTypePattern(typePattern).build()));
    }

    /** This client's quotas (an admin's: every owner's), each with what is used of it now. */
    public List<QuotaUsage> quotas() {
        return call(true, stub -> stub.listQuotas(ListQuotasRequest.getDefaultInstance())).getQuotasList();
    }

    /** Removes a type's registration (admin token); what workers announced stays. */
    public JobTypeInfo unregisterJobType(String name) {
        return call(false, stub -> stub.unregisterJobType(UnregisterJobTypeRequest.newBuilder().setName(name).build()));
    }

    // ---------------------------------------------------------------- callbacks

    /**
     * Callback deliveries, newest first, each with its attempts: this client's own (an admin's: every
     * owner's). Filter with {@code setFailing(true)} or {@code setJobId(id)}.
     */
    public ListCallbacksResponse listCallbacks(ListCallbacksRequest request) {
        return call(true, stub -> stub.listCallbacks(request));
    }

    // ---------------------------------------------------------------- schedules

    /**
     * Creates a schedule: a job at every fire of a cron expression (in a time zone) or a fixed interval,
     * submitted with the idempotency key {@code schedule:<name>:<fire time>} by whichever broker fires it.
     */
    public io.jobwire.api.v1.Schedule createSchedule(io.jobwire.api.v1.CreateScheduleRequest request) {
        return call(false, stub -> stub.createSchedule(request));
    }

    /** The caller's schedules (an admin's: everyone's), each with its next fires. */
    public java.util.List<io.jobwire.api.v1.Schedule> listSchedules() {
        return call(true, stub -> stub.listSchedules(io.jobwire.api.v1.ListSchedulesRequest.getDefaultInstance()))
                .getSchedulesList();
    }

    /** Stops a schedule's fires until {@link #resumeSchedule}. */
    public io.jobwire.api.v1.Schedule pauseSchedule(String name) {
        return call(true, stub -> stub.pauseSchedule(io.jobwire.api.v1.ScheduleRef.newBuilder().setName(name).build()));
    }

    public io.jobwire.api.v1.Schedule resumeSchedule(String name) {
        return call(true, stub -> stub.resumeSchedule(io.jobwire.api.v1.ScheduleRef.newBuilder().setName(name).build()));
    }

    /** Deletes a schedule; the jobs it made stay. */
    public io.jobwire.api.v1.Schedule deleteSchedule(String name) {
        return call(false, stub -> stub.deleteSchedule(io.jobwire.api.v1.ScheduleRef.newBuilder().setName(name).build()));
    }

    /**
     * Pauses a queue (admin): no broker claims its jobs until {@link #resumeQueue}. Submits are still
     * taken and running jobs run on. Pausing a paused queue returns the pause there was.
     */
    public io.jobwire.api.v1.Paused pauseQueue(String queue, String reason) {
        return call(true, stub -> stub.pause(io.jobwire.api.v1.PauseRequest.newBuilder().setQueue(queue)
                .setReason(reason == null ? "" : reason).build()));
    }

    /** Pauses a job type (admin), as {@link #pauseQueue} a queue. */
    public io.jobwire.api.v1.Paused pauseType(String type, String reason) {
        return call(true, stub -> stub.pause(io.jobwire.api.v1.PauseRequest.newBuilder().setType(type)
                .setReason(reason == null ? "" : reason).build()));
    }

    /** Resumes a paused queue (admin); false when it was not paused. */
    public boolean resumeQueue(String queue) {
        return call(true, stub -> stub.resume(io.jobwire.api.v1.ResumeRequest.newBuilder().setQueue(queue).build()))
                .getWasPaused();
    }

    /** Resumes a paused job type (admin); false when it was not paused. */
    public boolean resumeType(String type) {
        return call(true, stub -> stub.resume(io.jobwire.api.v1.ResumeRequest.newBuilder().setType(type).build()))
                .getWasPaused();
    }

    /** The queues and types paused now, oldest pause first. */
    public java.util.List<io.jobwire.api.v1.Paused> paused() {
        return call(true, stub -> stub.listPaused(io.jobwire.api.v1.ListPausedRequest.getDefaultInstance()))
                .getPausedList();
    }

    /**
     * Sets a rate key's limit (admin): its jobs ({@code JobSpec.rate_key}) start at most {@code perSecond} on
     * average and {@code burst} at once (0: a second's worth), across every broker.
     */
    public io.jobwire.api.v1.RateLimit setRateLimit(String key, double perSecond, int burst) {
        return call(true, stub -> stub.setRateLimit(io.jobwire.api.v1.SetRateLimitRequest.newBuilder().setKey(key)
                .setPerSecond(perSecond).setBurst(burst).build()));
    }

    /** Deletes a rate key's limit (admin): its waiting jobs start without one. */
    public io.jobwire.api.v1.RateLimit deleteRateLimit(String key) {
        return call(true, stub -> stub.deleteRateLimit(io.jobwire.api.v1.DeleteRateLimitRequest.newBuilder().setKey(key)
                .build()));
    }

    /** Every rate limit, with the jobs waiting for it (the caller's own, unless an admin). */
    public java.util.List<io.jobwire.api.v1.RateLimit> rateLimits() {
        return call(true, stub -> stub.listRateLimits(io.jobwire.api.v1.ListRateLimitsRequest.getDefaultInstance()))
                .getRateLimitsList();
    }

    /** Delivers a failed (or delivered) callback again, now, with a fresh retry window. */
    public CallbackDelivery redeliverCallback(String deliveryId) {
        return call(false, stub -> stub.redeliverCallback(RedeliverCallbackRequest.newBuilder().setId(deliveryId).build()));
    }

    /**
     * The secret ({@code whsec_...}) that signs this owner's callbacks, made on first use; with {@code
     * rotate}, a new one (the previous one signs too for 24 hours).
     */
    public CallbackSecret callbackSecret(boolean rotate) {
        return call(false, stub -> stub.getCallbackSecret(GetCallbackSecretRequest.newBuilder().setRotate(rotate).build()));
    }

    // ---------------------------------------------------------------- operator writes

    public Job cancel(String id) {
        return cancel(id, "");
    }

    public Job cancel(String id, String reason) {
        return call(false, stub -> stub.cancel(CancelRequest.newBuilder().setId(id).setReason(reason).build()));
    }

    public Job retry(String id) {
        return call(false, stub -> stub.retry(RetryRequest.newBuilder().setId(id).build()));
    }

    public Job hold(String id) {
        return call(false, stub -> stub.hold(HoldRequest.newBuilder().setId(id).build()));
    }

    public Job release(String id) {
        return call(false, stub -> stub.release(ReleaseRequest.newBuilder().setId(id).build()));
    }

    // ---------------------------------------------------------------- watch

    /** Watches as a blocking iterator; close it to stop early. */
    public JobWatch watch(WatchRequest request) {
        return watch(Context.current().withCancellation(), request, 0);
    }

    private JobWatch watch(Context.CancellableContext context, WatchRequest request, long deadlineMillis) {
        Context previous = context.attach();
        try {
            JobServiceGrpc.JobServiceBlockingStub stub = withToken(JobServiceGrpc.newBlockingStub(connection.channel(current)));
            if (deadlineMillis > 0) {
                stub = stub.withDeadlineAfter(deadlineMillis, TimeUnit.MILLISECONDS);
            }
            return new JobWatch(context, stub.watch(request));
        } catch (StatusRuntimeException e) {
            throw JobwireException.from(e);
        } finally {
            context.detach(previous);
        }
    }

    /** A running callback watch; close it to stop. */
    public interface Subscription extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Watches with callbacks: {@code onEvent} for each event (on a gRPC thread; keep it short), then
     * {@code onEnd} once with null when the watch ended normally, or with the error.
     */
    public Subscription watch(WatchRequest request, Consumer<WatchEvent> onEvent, Consumer<JobwireException> onEnd) {
        List<ClientCallStreamObserver<WatchRequest>> call = new ArrayList<>(1);
        withToken(JobServiceGrpc.newStub(connection.channel(current))).watch(request,
                new ClientResponseObserver<WatchRequest, WatchEvent>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<WatchRequest> requestStream) {
                        synchronized (call) {
                            call.add(requestStream);
                        }
                    }

                    @Override
                    public void onNext(WatchEvent event) {
                        onEvent.accept(event);
                    }

                    @Override
                    public void onError(Throwable t) {
                        Status status = Status.fromThrowable(t);
                        if (status.getCode() != Status.Code.CANCELLED) {
                            onEnd.accept(new JobwireException(status.getCode(), status.getDescription(), t));
                        }
                    }

                    @Override
                    public void onCompleted() {
                        onEnd.accept(null);
                    }
                });
        return () -> {
            synchronized (call) {
                call.forEach(requestStream -> requestStream.cancel("watch closed by the client", null));
            }
        };
    }

    // ---------------------------------------------------------------- plumbing

    private <T> T call(boolean retryElsewhere, Function<JobServiceGrpc.JobServiceBlockingStub, T> body) {
        int tries = retryElsewhere ? connection.size() : 1;
        for (int attempt = 1; ; attempt++) {
            JobServiceGrpc.JobServiceBlockingStub stub = withToken(JobServiceGrpc.newBlockingStub(connection.channel(current)))
                    .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
            try {
                return body.apply(stub);
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.UNAVAILABLE) {
                    advance();
                    if (attempt < tries) {
                        continue;
                    }
                }
                throw JobwireException.from(e);
            }
        }
    }

    private <S extends io.grpc.stub.AbstractStub<S>> S withToken(S stub) {
        return connection.callCredentials() == null ? stub : stub.withCallCredentials(connection.callCredentials());
    }

    private synchronized void advance() {
        current = (current + 1) % connection.size();
    }

    private String toJson(Object payload) {
        if (payload == null) {
            return "null";
        }
        if (payload instanceof String text) {
            return text;
        }
        try {
            return json.writeValueAsString(payload);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the payload cannot be written as JSON: " + e.getOriginalMessage(), e);
        }
    }

    @Override
    public void close() {
        connection.close();
    }

    /** Options of a {@link JobwireClient}. */
    public static final class Builder extends ConnectionBuilder<Builder> {
        private Duration deadline = Duration.ofSeconds(30);
        private ObjectMapper json = new ObjectMapper();

        private Builder() {
        }

        /** Deadline of each unary call (default 30 s). */
        public Builder deadline(Duration perCall) {
            this.deadline = perCall;
            return this;
        }

        /** The Jackson mapper used to write payload objects. */
        public Builder objectMapper(ObjectMapper mapper) {
            this.json = mapper;
            return this;
        }

        public JobwireClient build() {
            return new JobwireClient(this);
        }
    }
}
