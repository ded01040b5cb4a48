package io.jobwire.broker.api;

import io.grpc.Status;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.convert.Statuses;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.jobwire.api.v1.Ack;
import io.jobwire.api.v1.Acks;
import io.jobwire.api.v1.AckAction;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.Complete;
import io.jobwire.api.v1.Error;
import io.jobwire.api.v1.Fail;
import io.jobwire.api.v1.Goodbye;
import io.jobwire.api.v1.Heartbeat;
import io.jobwire.api.v1.Hello;
import io.jobwire.api.v1.JobTypeSpec;
import io.jobwire.api.v1.Outcomes;
import io.jobwire.api.v1.ProgressUpdate;
import io.jobwire.api.v1.ReleaseJob;
import io.jobwire.api.v1.Welcome;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.broker.auth.Principal;
import io.jobwire.broker.auth.Role;
import io.jobwire.broker.dispatch.Dispatcher;
import io.jobwire.broker.dispatch.SessionRegistry;
import io.jobwire.broker.dispatch.WorkerLink;
import io.jobwire.broker.dispatch.WorkerSession;
import io.jobwire.broker.store.Fenced;
import io.jobwire.broker.store.GroupCommit;
import io.jobwire.broker.store.GroupWrites;
import io.jobwire.broker.store.JobStore;
import io.jobwire.broker.store.LeaseRef;
import io.jobwire.broker.store.RegistryStore;
import io.jobwire.broker.types.TypeRegistry;
import io.jobwire.broker.store.WorkerWrites;
import io.jobwire.broker.store.WriteResult;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker's stream, from the broker's side: checks each message, applies it through the store and
 * answers it. A mistake in one message is answered for that message (an Ack or an Error) and the stream
 * carries on. Messages are read one at a time and only while the worker keeps reading our answers (its
 * {@link WorkerLink} is writable), so a worker that stops reading cannot make the broker buffer without
 * bound. Everything sent to the worker goes through the link, which alone holds the call's observer.
 */
final class WorkerStream implements StreamObserver<WorkerMessage> {
    private static final Logger log = LoggerFactory.getLogger(WorkerStream.class);

    /** What every stream of this broker shares. */
    record Context(JobStore store, GroupWrites writes, RegistryStore registry, TypeRegistry types, SessionRegistry sessions,
                   Dispatcher dispatcher, JsonText json, long maxResultBytes, Duration heartbeatInterval, Clock clock) {
    }

    private final Context context;
    private final Principal caller;
    /** The principal that leases are fenced by; null when the broker does not authenticate. */
    private final String writer;
    /** Writes of this stream applied but not yet answered; reading pauses at {@link #MAX_PENDING_WRITES}. */
    private static final int MAX_PENDING_WRITES = 32;

    private volatile WorkerSession session;
    private boolean batchAcks;
    /** The stream owes gRPC a request for the next message (guarded by this). */
    private boolean wantsNext;
    private int pendingWrites;
    /** The stream's session was closed (once). */
    private boolean gone;
    private final WorkerLink link;
    /** This stream's writes not yet applied, by job: the last one of each (see {@link #inJobOrder}). */
    private final Map<Long, CompletableFuture<?>> writesByJob = new java.util.HashMap<>();

    WorkerStream(Context context, ServerCallStreamObserver<BrokerMessage> out) {
        this.context = context;
        this.caller = Principal.current();
        this.writer = Principal.CURRENT.get() == null ? null : caller.name();
        this.link = new WorkerLink(out, context.clock(), this::onGone);
        link.whenWritable(this::onWritable);
        link.readNext();
    }

    /** The worker has read what we sent: read its next message, and claim for it if a claim was skipped. */
    private void onWritable() {
        readNextIfAllowed();
        WorkerSession current = session;
        if (current != null && current.writableAgain()) {
            context.dispatcher().wake();
        }
    }

    /**
     * Asks for the next message once the previous one is handled, the worker reads our answers
     * (transport ready) and few enough of its writes wait for a commit. Exactly one request is
     * outstanding at a time.
     */
    private synchronized void readNextIfAllowed() {
        if (link.isClosed()) {
            wantsNext = false;
            return;
        }
        if (wantsNext && link.isWritable() && pendingWrites < MAX_PENDING_WRITES) {
            wantsNext = false;
            link.readNext();
        }
    }

    private synchronized void writeStarted() {
        pendingWrites++;
    }

    private void writeAnswered() {
        synchronized (this) {
            pendingWrites--;
        }
        readNextIfAllowed();
    }

    @Override
    public void onNext(WorkerMessage message) {
        try {
            handle(message);
        } catch (RuntimeException e) {
            Status status = Statuses.from(e);
            sendError(status.getCode().name(), status.getDescription());
        } finally {
            synchronized (this) {
                wantsNext = true;
            }
            readNextIfAllowed();
        }
    }

    private void handle(WorkerMessage message) {
        if (session == null && message.getKindCase() != WorkerMessage.KindCase.HELLO) {
            endWith(Status.FAILED_PRECONDITION.withDescription("the first message on a worker stream must be Hello"));
            return;
        }
        switch (message.getKindCase()) {
            case HELLO -> hello(message.getHello());
            case CREDIT -> credit(message.getCredit().getJobs());
            case HEARTBEAT -> heartbeat(message.getHeartbeat());
            case PROGRESS -> progress(message.getProgress());
            case COMPLETE -> complete(message.getComplete());
            case FAIL -> fail(message.getFail());
            case RELEASE -> release(message.getRelease());
            case GOODBYE -> goodbye(message.getGoodbye());
            case OUTCOMES -> outcomes(message.getOutcomes());
            case AWAIT_JOBS -> awaitJobs(message.getAwaitJobs());
            case KIND_NOT_SET -> sendError("INVALID_ARGUMENT", "empty WorkerMessage: set one of its fields");
        }
    }

    // ---------------------------------------------------------------- Hello

    /**
     * A worker announcing a payload schema other than the registered one does not change what submits are
     * checked against; the operator hears of it here and in {@code jobwire types}.
     */
    private void warnOfSchemasOtherThanRegistered(String workerId, List<RegistryStore.AnnouncedType> announced) {
        for (RegistryStore.AnnouncedType type : announced) {
            TypeRegistry.Registered registered = context.types().find(type.name());
            if (type.payloadSchema() != null && registered != null && registered.registration().payloadSchema() != null
                    && !context.json().sameJson(type.payloadSchema(), registered.registration().payloadSchema())) {
                log.warn("worker {} announces a payload schema for type {} other than the registered one; submits are "
                        + "checked against the registered schema (see `jobwire types show {}`)", workerId, type.name(),
                        type.name());
            }
        }
    }

    private void hello(Hello hello) {
        if (session != null) {
            sendError("FAILED_PRECONDITION", "Hello was already received on this stream");
            return;
        }
        Map<String, Integer> typeLimits;
        List<RegistryStore.AnnouncedType> announced = new ArrayList<>();
        List<String> queues = new ArrayList<>();
        try {
            if (!caller.may(Role.WORK)) {
                throw Status.PERMISSION_DENIED.withDescription("this token may not run a worker (it needs the work role)")
                        .asRuntimeException();
            }
            String workerId = Texts.check("hello.worker_id", hello.getWorkerId(), Limits.MAX_WORKER_ID);
            if (workerId.isBlank()) {
                throw InvalidArgument.of("hello.worker_id", "must not be empty");
            }
            typeLimits = typeLimits(hello, announced);
            for (String type : typeLimits.keySet()) {
                if (!caller.mayUseType(type)) {
                    throw Status.PERMISSION_DENIED.withDescription("hello.job_types: this token may not run jobs of type "
                            + type).asRuntimeException();
                }
            }
            for (int i = 0; i < hello.getQueuesCount(); i++) {
                queues.add(Names.check("hello.queues[" + i + "]", hello.getQueues(i)));
            }
            if (hello.getMaxConcurrency() < 1 || hello.getMaxConcurrency() > Limits.MAX_CONCURRENCY) {
                throw InvalidArgument.of("hello.max_concurrency", "must be between 1 and " + Limits.MAX_CONCURRENCY
                        + ", got " + hello.getMaxConcurrency());
            }
            List<LeaseRef> held = new ArrayList<>();
            for (int i = 0; i < hello.getHeldCount(); i++) {
                Leases.Parsed parsed = Leases.parse("hello.held[" + i + "]", hello.getHeld(i));
                if (!parsed.ok()) {
                    throw Status.INVALID_ARGUMENT.withDescription(parsed.problem()).asRuntimeException();
                }
                held.add(parsed.lease());
            }
            if (writer != null && !context.registry().bindWorkerId(workerId, writer)) {
                throw Status.PERMISSION_DENIED.withDescription("hello.worker_id: \"" + workerId + "\" is the worker id "
                        + "of another principal; choose another (SDK: Worker.Builder.workerId, CLI: --worker-id)")
                        .asRuntimeException();
            }
            batchAcks = hello.getBatchAcks();
            context.registry().announce(announced);
            warnOfSchemasOtherThanRegistered(workerId, announced);
            session = context.sessions().open(workerId, writer, typeLimits, queues, hello.getMaxConcurrency(),
                    context.clock().instant(), link);
            context.registry().refreshSessions(List.of(session.snapshot(context.sessions().brokerId())));
            link.send(BrokerMessage.newBuilder().setWelcome(Welcome.newBuilder()
                    .setSessionId(session.sessionId())
                    .setBrokerId(context.sessions().brokerId())
                    .setHeartbeatInterval(ProtoJobs.duration(context.heartbeatInterval())))
                    .build());
            if (!held.isEmpty()) {
                send(List.of(write(AckAction.ACK_ACTION_HEARTBEAT, held, Function.identity(), context.writes().heartbeats())));
            }
        } catch (RuntimeException e) {
            endWith(Statuses.from(e));
        }
    }

    /** Ends the stream from our side; a session, if any, is closed with it. */
    private void endWith(Status status) {
        link.end(status);
        onGone();
    }

    private Map<String, Integer> typeLimits(Hello hello, List<RegistryStore.AnnouncedType> announced) {
        if (hello.getJobTypesCount() == 0) {
            throw InvalidArgument.of("hello.job_types", "name at least one job type");
        }
        Map<String, Integer> limits = new LinkedHashMap<>();
        for (int i = 0; i < hello.getJobTypesCount(); i++) {
            JobTypeSpec spec = hello.getJobTypes(i);
            String field = "hello.job_types[" + i + "]";
            String name = Names.check(field + ".name", spec.getName());
            if (limits.containsKey(name)) {
                throw InvalidArgument.of(field + ".name", "type " + name + " is named twice");
            }
            if (spec.getMaxConcurrency() < 0 || spec.getMaxConcurrency() > Limits.MAX_CONCURRENCY) {
                throw InvalidArgument.of(field + ".max_concurrency", "must be between 0 and " + Limits.MAX_CONCURRENCY);
            }
            String description = Texts.check(field + ".description", spec.getDescription(), Limits.MAX_DESCRIPTION);
            String schema = spec.getPayloadSchema().isEmpty() ? null
                    : context.json().checkObject(field + ".payload_schema", spec.getPayloadSchema(), Limits.MAX_SCHEMA_BYTES);
            limits.put(name, spec.getMaxConcurrency());
            announced.add(new RegistryStore.AnnouncedType(name, description, schema));
        }
        return limits;
    }

    private void credit(int jobs) {
        if (jobs < 1 || jobs > Limits.MAX_CREDIT) {
            sendError("INVALID_ARGUMENT", "credit.jobs: must be between 1 and " + Limits.MAX_CREDIT + ", got " + jobs);
            return;
        }
        session.addCredit(jobs);
        context.dispatcher().wake();
    }

    // ---------------------------------------------------------------- fenced writes
    //
    // Each write goes to its kind's group commit and is answered when that commit completes, so the
    // stream reads on meanwhile (up to MAX_PENDING_WRITES) and writes of many streams share a commit.

    private void heartbeat(Heartbeat heartbeat) {
        List<CompletableFuture<List<Ack>>> parts = new ArrayList<>();
        List<LeaseRef> leases = new ArrayList<>();
        for (int i = 0; i < heartbeat.getLeasesCount(); i++) {
            Leases.Parsed parsed = Leases.parse("heartbeat.leases[" + i + "]", heartbeat.getLeases(i));
            if (parsed.ok()) {
                leases.add(parsed.lease());
            } else {
                parts.add(invalid(AckAction.ACK_ACTION_HEARTBEAT, heartbeat.getLeases(i), parsed.problem()));
            }
        }
        parts.add(write(AckAction.ACK_ACTION_HEARTBEAT, leases, Function.identity(), context.writes().heartbeats()));
        send(parts);
    }

    private void progress(ProgressUpdate update) {
        Leases.Parsed parsed = Leases.parse("progress.lease", update.getLease());
        String problem = parsed.problem();
        String details = null;
        if (problem == null) {
            if (!(update.getPercent() >= 0 && update.getPercent() <= 100)) {
                problem = "progress.percent: must be between 0 and 100, got " + update.getPercent();
            } else if (Texts.problemIn(update.getMessage()) != null || update.getMessage().length() > Limits.MAX_PROGRESS_MESSAGE) {
                problem = "progress.message: must be at most " + Limits.MAX_PROGRESS_MESSAGE
                        + " characters without NUL or unpaired surrogates";
            } else {
                try {
                    details = update.getDetails().isEmpty() ? null
                            : context.json().check("progress.details", update.getDetails(), null, Limits.MAX_PROGRESS_DETAILS);
                } catch (io.grpc.StatusRuntimeException e) {
                    problem = e.getStatus().getDescription();
                }
            }
        }
        if (problem != null) {
            send(List.of(invalid(AckAction.ACK_ACTION_PROGRESS, update.getLease(), problem)));
            return;
        }
        var report = new WorkerWrites.ProgressReport(parsed.lease(), update.getPercent(), update.getMessage(), details);
        send(List.of(write(AckAction.ACK_ACTION_PROGRESS, List.of(report), WorkerWrites.ProgressReport::lease,
                context.writes().progress())));
    }

    private void complete(Complete complete) {
        send(completions(List.of(complete), "complete"));
    }

    private void fail(Fail fail) {
        send(failures(List.of(fail), "fail"));
    }

    private void release(ReleaseJob release) {
        send(releases(List.of(release), "release"));
    }

    /** The attempt ends and the job waits for the jobs named (each existing, of the job's owner), then runs again. */
    private void awaitJobs(io.jobwire.api.v1.AwaitJobs await) {
        Leases.Parsed parsed = Leases.parse("await_jobs.lease", await.getLease());
        String problem = parsed.problem();
        List<Long> ids = null;
        if (problem == null) {
            try {
                ids = JobSpecs.dependsOn("await_jobs.job_ids", await.getJobIdsList());
                if (ids == null) {
                    problem = "await_jobs.job_ids: name the jobs to wait for (1 to " + Limits.MAX_DEPENDENCIES + ")";
                } else {
                    java.util.Set<Long> visible = context.store().ofTheOwnerOf(parsed.lease().jobId(), ids);
                    for (int i = 0; i < ids.size() && problem == null; i++) {
                        if (!visible.contains(ids.get(i))) {
                            problem = "await_jobs.job_ids[" + i + "]: no job " + ids.get(i);
                        }
                    }
                }
            } catch (io.grpc.StatusRuntimeException e) {
                problem = e.getStatus().getDescription();
            }
        }
        if (problem != null) {
            send(List.of(invalid(AckAction.ACK_ACTION_AWAIT, await.getLease(), problem)));
            return;
        }
        send(List.of(write(AckAction.ACK_ACTION_AWAIT, List.of(new WorkerWrites.Await(parsed.lease(), ids)),
                WorkerWrites.Await::lease, context.writes().awaits())));
    }

    private void outcomes(Outcomes outcomes) {
        List<CompletableFuture<List<Ack>>> parts = new ArrayList<>();
        parts.addAll(completions(outcomes.getCompleteList(), "outcomes.complete"));
        parts.addAll(failures(outcomes.getFailList(), "outcomes.fail"));
        parts.addAll(releases(outcomes.getReleaseList(), "outcomes.release"));
        send(parts);
    }

    /** @param field the field name in messages; indexed when there can be several */
    private List<CompletableFuture<List<Ack>>> completions(List<Complete> messages, String field) {
        List<CompletableFuture<List<Ack>>> parts = new ArrayList<>();
        List<WorkerWrites.Completion> valid = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            Complete complete = messages.get(i);
            String name = messages.size() == 1 && !field.startsWith("outcomes") ? field : field + "[" + i + "]";
            Leases.Parsed parsed = Leases.parse(name + ".lease", complete.getLease());
            String problem = parsed.problem();
            String result = null;
            if (problem == null) {
                try {
                    result = context.json().check(name + ".result", complete.getResult(), "null", context.maxResultBytes());
                } catch (io.grpc.StatusRuntimeException e) {
                    problem = e.getStatus().getDescription();
                }
            }
            if (problem != null) {
                parts.add(invalid(AckAction.ACK_ACTION_COMPLETE, complete.getLease(), problem));
            } else {
                valid.add(new WorkerWrites.Completion(parsed.lease(), result));
            }
        }
        parts.add(write(AckAction.ACK_ACTION_COMPLETE, valid, WorkerWrites.Completion::lease, context.writes().completions()));
        return parts;
    }

    private List<CompletableFuture<List<Ack>>> failures(List<Fail> messages, String field) {
        List<CompletableFuture<List<Ack>>> parts = new ArrayList<>();
        List<WorkerWrites.Failure> valid = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            Fail fail = messages.get(i);
            String name = messages.size() == 1 && !field.startsWith("outcomes") ? field : field + "[" + i + "]";
            Leases.Parsed parsed = Leases.parse(name + ".lease", fail.getLease());
            String problem = parsed.problem();
            Long delayMs = null;
            if (problem == null && fail.hasRetryDelay()) {
                try {
                    delayMs = JobSpecs.duration(name + ".retry_delay", fail.getRetryDelay(), Duration.ZERO,
                            Limits.MAX_RETRY_DELAY).toMillis();
                } catch (io.grpc.StatusRuntimeException e) {
                    problem = e.getStatus().getDescription();
                }
            }
            if (problem != null) {
                parts.add(invalid(AckAction.ACK_ACTION_FAIL, fail.getLease(), problem));
                continue;
            }
            String error = Texts.sanitize(fail.getError().isEmpty() ? "failed without a message" : fail.getError(),
                    Limits.MAX_ERROR);
            valid.add(new WorkerWrites.Failure(parsed.lease(), error, fail.getRetryable(), delayMs));
        }
        parts.add(write(AckAction.ACK_ACTION_FAIL, valid, WorkerWrites.Failure::lease, context.writes().failures()));
        return parts;
    }

    private List<CompletableFuture<List<Ack>>> releases(List<ReleaseJob> messages, String field) {
        List<CompletableFuture<List<Ack>>> parts = new ArrayList<>();
        List<WorkerWrites.Release> valid = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            ReleaseJob release = messages.get(i);
            String name = messages.size() == 1 && !field.startsWith("outcomes") ? field : field + "[" + i + "]";
            Leases.Parsed parsed = Leases.parse(name + ".lease", release.getLease());
            if (!parsed.ok()) {
                parts.add(invalid(AckAction.ACK_ACTION_RELEASE, release.getLease(), parsed.problem()));
                continue;
            }
            String reason = Texts.sanitize(release.getReason().isEmpty() ? "released by the worker" : release.getReason(),
                    Limits.MAX_REASON);
            valid.add(new WorkerWrites.Release(parsed.lease(), reason));
        }
        parts.add(write(AckAction.ACK_ACTION_RELEASE, valid, WorkerWrites.Release::lease, context.writes().releases()));
        return parts;
    }

    private void goodbye(Goodbye goodbye) {
        session.stopAccepting();
        List<CompletableFuture<List<Ack>>> parts = new ArrayList<>();
        List<WorkerWrites.Release> releases = new ArrayList<>();
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < goodbye.getReleaseCount(); i++) {
            Leases.Parsed parsed = Leases.parse("goodbye.release[" + i + "]", goodbye.getRelease(i));
            if (!parsed.ok()) {
                parts.add(invalid(AckAction.ACK_ACTION_RELEASE, goodbye.getRelease(i), parsed.problem()));
            } else if (seen.add(parsed.lease().jobId())) {
                releases.add(new WorkerWrites.Release(parsed.lease(), "the worker is shutting down"));
            }
        }
        parts.add(write(AckAction.ACK_ACTION_RELEASE, releases, WorkerWrites.Release::lease, context.writes().releases()));
        send(parts);
    }

    /**
     * Starts {@code write} once this stream's earlier writes about the same jobs are applied: each kind of
     * write has its own group commit, and a progress report followed by the completion must not land after
     * it (the fence would refuse it, and the final progress would be lost).
     */
    private <T> CompletableFuture<T> inJobOrder(List<Long> jobIds, java.util.function.Supplier<CompletableFuture<T>> write) {
        CompletableFuture<T> result;
        synchronized (writesByJob) {
            List<CompletableFuture<?>> earlier = new ArrayList<>();
            for (Long id : jobIds) {
                CompletableFuture<?> pending = writesByJob.get(id);
                if (pending != null) {
                    earlier.add(pending);
                }
            }
            result = earlier.isEmpty() ? write.get()
                    : CompletableFuture.allOf(earlier.toArray(CompletableFuture[]::new))
                            .handle((ignored, error) -> null)
                            .thenCompose(ignored -> write.get());
            for (Long id : jobIds) {
                writesByJob.put(id, result);
            }
        }
        result.whenComplete((ignored, error) -> {
            synchronized (writesByJob) {
                jobIds.forEach(id -> writesByJob.remove(id, result));
            }
        });
        return result;
    }

    /**
     * Hands the writes to their group commit. When it has committed, keeps the session's lease
     * bookkeeping in step and yields one Ack per write, in order. A database outage answers each write
     * UNAVAILABLE (the worker sends it again); any other failure is reported as an Error.
     */
    private <W> CompletableFuture<List<Ack>> write(AckAction action, List<W> writes, Function<W, LeaseRef> leaseOf,
                                                   GroupCommit<Fenced<W>, WriteResult> group) {
        if (writes.isEmpty()) {
            return CompletableFuture.completedFuture(List.of());
        }
        boolean finishing = action == AckAction.ACK_ACTION_COMPLETE || action == AckAction.ACK_ACTION_FAIL
                || action == AckAction.ACK_ACTION_RELEASE || action == AckAction.ACK_ACTION_AWAIT;
        Map<Long, WorkerSession.Lease> leases = new HashMap<>();
        if (finishing) {
            writes.forEach(w -> leases.put(leaseOf.apply(w).jobId(), session.lease(leaseOf.apply(w).jobId())));
        }
        return inJobOrder(writes.stream().map(w -> leaseOf.apply(w).jobId()).toList(),
                () -> group.submit(Fenced.all(writer, writes))).handle((results, error) -> {
            List<Ack> acks = new ArrayList<>(writes.size());
            if (error != null) {
                Throwable cause = error instanceof CompletionException ? error.getCause() : error;
                Status status = Statuses.from(cause);
                if (status.getCode() != Status.Code.UNAVAILABLE) {
                    sendError(status.getCode().name(), status.getDescription());
                    return acks;
                }
                for (W write : writes) {
                    acks.add(ack(action, leaseOf.apply(write), AckStatus.ACK_STATUS_UNAVAILABLE, status.getDescription())
                            .build());
                }
                return acks;
            }
            for (WriteResult result : results) {
                LeaseRef lease = result.lease();
                if (result.accepted() && !finishing) {
                    session.adopt(lease.jobId(), lease.attempt(), lease.token(), result.type());
                } else if (result.accepted()) {
                    if (result.state() == io.jobwire.broker.store.JobStatus.FAILED && action == AckAction.ACK_ACTION_FAIL) {
                        log.atInfo().addKeyValue("job_id", String.valueOf(lease.jobId())).addKeyValue("job_type", result.type())
                                .addKeyValue("attempt", lease.attempt()).addKeyValue("worker_id", session.workerId())
                                .log("job {} ({}) failed for good in attempt {} on worker {}", lease.jobId(), result.type(),
                                        lease.attempt(), session.workerId());
                    }
                    session.finished(lease.jobId(), leases.get(lease.jobId()), action == AckAction.ACK_ACTION_COMPLETE ? "succeeded"
                            : action == AckAction.ACK_ACTION_RELEASE ? "released"
                            : action == AckAction.ACK_ACTION_AWAIT ? "awaiting"
                            : result.state() == io.jobwire.broker.store.JobStatus.FAILED ? "failed" : "retried");
                } else {
                    session.forget(lease.jobId());
                }
                Ack.Builder ack = ack(action, lease, ackStatus(result), result.message());
                if (result.state() != null) {
                    ack.setState(ProtoJobs.state(result.state()));
                }
                if (result.leaseExpiresAt() != null) {
                    ack.setLeaseExpiresAt(ProtoJobs.timestamp(result.leaseExpiresAt()));
                }
                acks.add(ack.build());
            }
            return acks;
        });
    }

    /**
     * Sends the acks of one worker message once all its parts are ready: one Acks message for a worker
     * that asked for batches, one Ack message each otherwise. Reading pauses while too many wait.
     */
    private void send(List<CompletableFuture<List<Ack>>> parts) {
        writeStarted();
        CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).whenComplete((ignored, error) -> {
            try {
                List<Ack> acks = new ArrayList<>();
                for (CompletableFuture<List<Ack>> part : parts) {
                    if (!part.isCompletedExceptionally()) {
                        acks.addAll(part.join());
                    }
                }
                if (acks.isEmpty()) {
                    return;
                }
                if (batchAcks) {
                    session.send(BrokerMessage.newBuilder().setAcks(Acks.newBuilder().addAllAcks(acks)).build());
                } else {
                    acks.forEach(ack -> session.send(BrokerMessage.newBuilder().setAck(ack).build()));
                }
            } catch (RuntimeException e) {
                log.warn("could not answer worker {}", session.workerId(), e);
            } finally {
                writeAnswered();
            }
        });
    }

    private static AckStatus ackStatus(WriteResult result) {
        return switch (result.outcome()) {
            case ACCEPTED -> AckStatus.ACK_STATUS_ACCEPTED;
            case LEASE_LOST -> AckStatus.ACK_STATUS_LEASE_LOST;
            case CANCELLED -> AckStatus.ACK_STATUS_CANCELLED;
            case NOT_FOUND -> AckStatus.ACK_STATUS_NOT_FOUND;
        };
    }

    private static Ack.Builder ack(AckAction action, LeaseRef lease, AckStatus status, String message) {
        return Ack.newBuilder()
                .setJobId(Long.toString(lease.jobId()))
                .setAttempt(lease.attempt())
                .setAction(action)
                .setStatus(status)
                .setMessage(message == null ? "" : message);
    }

    private static CompletableFuture<List<Ack>> invalid(AckAction action, io.jobwire.api.v1.LeaseRef lease, String problem) {
        return CompletableFuture.completedFuture(List.of(Ack.newBuilder()
                .setJobId(lease.getJobId())
                .setAttempt(lease.getAttempt())
                .setAction(action)
                .setStatus(AckStatus.ACK_STATUS_INVALID)
                .setMessage(problem)
                .build()));
    }

    private void sendError(String code, String message) {
        BrokerMessage error = BrokerMessage.newBuilder()
                .setError(Error.newBuilder().setCode(code).setMessage(message == null ? "" : message))
                .build();
        link.send(error);
    }

    // ---------------------------------------------------------------- end of stream

    @Override
    public void onError(Throwable t) {
        onGone();
    }

    @Override
    public void onCompleted() {
        endWith(Status.OK);
    }

    /** The worker went away. Its leases stay valid until they expire, so it can reconnect and finish. */
    private void onGone() {
        link.markClosed();
        WorkerSession closing = session;
        if (closing == null || gone) {
            return;
        }
        gone = true;
        context.sessions().close(closing);
        try {
            context.registry().removeSessions(List.of(closing.sessionId()));
        } catch (RuntimeException e) {
            log.debug("could not remove worker session {} from the database; it will go stale", closing.sessionId(), e);
        }
    }
}
