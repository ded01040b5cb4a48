package io.jobwire.broker.api;

import io.jobwire.broker.tracing.Tracing;
import io.grpc.Status;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.dispatch.Dispatcher;
import io.jobwire.broker.convert.Statuses;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
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
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.DeleteQuotaRequest;
import io.jobwire.api.v1.GetJobTypeRequest;
import io.jobwire.api.v1.ListQuotasRequest;
import io.jobwire.api.v1.ListQuotasResponse;
import io.jobwire.api.v1.Quota;
import io.jobwire.api.v1.SetQuotaRequest;
import io.jobwire.broker.dispatch.QuotaRules;
import io.jobwire.broker.store.QuotaStore;
import io.jobwire.api.v1.JobTypeInfo;
import io.jobwire.api.v1.RegisterJobTypeRequest;
import io.jobwire.api.v1.UnregisterJobTypeRequest;
import io.jobwire.api.v1.ListJobTypesRequest;
import io.jobwire.api.v1.ListJobTypesResponse;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.ListResponse;
import io.jobwire.api.v1.QueueStats;
import io.jobwire.api.v1.ReleaseRequest;
import io.jobwire.api.v1.RetryRequest;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.StatsResponse;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.SubmitBatchResponse;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.SubmitResponse;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchFilter;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.api.v1.WorkerInfo;
import io.jobwire.broker.auth.Principal;
import io.jobwire.broker.metrics.BrokerMetrics;
import io.jobwire.broker.auth.Role;
import io.jobwire.broker.store.JobFilter;
import io.jobwire.broker.store.JobQueries;
import io.jobwire.broker.store.JobRecord;
import io.jobwire.broker.store.JobStatus;
import io.jobwire.broker.store.JobStore;
import io.jobwire.broker.store.JobTypeRecord;
import io.jobwire.broker.store.NewJob;
import io.jobwire.broker.store.QueueCounts;
import io.jobwire.broker.store.RegistryStore;
import io.jobwire.broker.store.SubmitOutcome;
import io.jobwire.broker.store.Transition;
import io.jobwire.broker.store.WorkerSessionRecord;
import io.jobwire.broker.types.TypeRegistry;
import io.jobwire.broker.watch.WatchHub;
import io.jobwire.broker.watch.Watcher;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/** JobService: what producers and operators call. Every write is committed before it answers OK. */
public final class JobServiceImpl extends JobServiceGrpc.JobServiceImplBase {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(JobServiceImpl.class);
    private static final PageTokens PAGES = new PageTokens("before:", "List");
    /** Pages stop growing here, under gRPC's default 4 MiB client limit. */
    private static final int MAX_PAGE_BYTES = 3 * 1024 * 1024;
    private static final List<JobStatus> UNFINISHED = List.of(JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.HELD,
            JobStatus.WAITING);

    private final JobStore store;
    private final Dispatcher dispatcher;
    private final JobQueries queries;
    private final RegistryStore registry;
    private final TypeRegistry types;
    private final QuotaStore quotaStore;
    private final QuotaRules quotas;
    private final WatchHub watches;
    private final JobSpecs specs;
    private final JsonText json;
    private final int maxWatchBacklog;
    private final int maxWatches;

    private final CallbackRpcs callbacks;
    private final BrokerMetrics metrics;

    private final Tracing tracing;
    private final ScheduleRpcs schedules;
    private final PauseRpcs pauses;
    private final RateLimitRpcs rates;
    /** Where a Submit whose checks read the database runs (Submit itself runs on the transport thread). */
    private final java.util.concurrent.Executor blocking;

    JobServiceImpl(JobStore store, Dispatcher dispatcher, JobQueries queries, RegistryStore registry, TypeRegistry types,
                   QuotaStore quotaStore, QuotaRules quotas, WatchHub watches, JobSpecs specs, JsonText json,
                   CallbackRpcs callbacks, BrokerMetrics metrics, Tracing tracing, ScheduleRpcs schedules,
                   PauseRpcs pauses, RateLimitRpcs rates, java.util.concurrent.Executor blocking, int maxWatchBacklog,
                   int maxWatches) {
        this.blocking = blocking;
        this.pauses = pauses;
        this.rates = rates;
        this.tracing = tracing;
        this.schedules = schedules;
        this.callbacks = callbacks;
        this.metrics = metrics;
        this.types = types;
        this.quotaStore = quotaStore;
        this.quotas = quotas;
        this.store = store;
        this.dispatcher = dispatcher;
        this.queries = queries;
        this.registry = registry;
        this.watches = watches;
        this.specs = specs;
        this.json = json;
        this.maxWatchBacklog = maxWatchBacklog;
        this.maxWatches = maxWatches;
    }

    @Override
    public void submit(SubmitRequest request, StreamObserver<SubmitResponse> response) {
        unaryAsync(response, () -> {
            if (!request.hasJob()) {
                throw InvalidArgument.of("job", "is required");
            }
            Principal caller = caller(Role.SUBMIT, "submit jobs");
            if (specs.readsDatabase(request.getJob())) {
                // not on the transport thread: its checks read the database
                return CompletableFuture.supplyAsync(() -> {
                    NewJob job = specs.toNewJob("job", request.getJob(), caller);
                    requireDependencies(List.of(job), List.of("job"), caller);
                    return submitOne(job);
                }, io.grpc.Context.current().fixedContextExecutor(blocking)).thenCompose(submitted -> submitted);
            }
            return submitOne(specs.toNewJob("job", request.getJob(), caller));
        });
    }

    private CompletableFuture<SubmitResponse> submitOne(NewJob job) {
        Tracing.Submit trace = tracing.submit(job.type(), job.queue(), 1);
        return traced(trace, dispatcher.submit(List.of(inTrace(job, trace))))
                .thenApply(outcomes -> toResponse(counted(outcomes).get(0)));
    }

    /**
     * Refuses the submit when a job depends on a job that does not exist or is not the caller's (an
     * admin's: any): the same answer for both, so a refusal tells nothing of another owner's jobs.
     */
    private void requireDependencies(List<NewJob> jobs, List<String> prefixes, Principal caller) {
        java.util.Set<Long> named = new java.util.HashSet<>();
        jobs.forEach(job -> {
            if (job.dependsOn() != null) {
                named.addAll(job.dependsOn());
            }
        });
        if (named.isEmpty()) {
            return;
        }
        java.util.Set<Long> visible = queries.visible(named, caller.isAdmin() ? null : caller.name());
        for (int i = 0; i < jobs.size(); i++) {
            List<Long> dependsOn = jobs.get(i).dependsOn();
            if (dependsOn != null) {
                for (int d = 0; d < dependsOn.size(); d++) {
                    if (!visible.contains(dependsOn.get(d))) {
                        throw InvalidArgument.of(prefixes.get(i) + ".depends_on[" + d + "]", "no job " + dependsOn.get(d));
                    }
                }
            }
        }
    }

    @Override
    public void submitBatch(SubmitBatchRequest request, StreamObserver<SubmitBatchResponse> response) {
        unaryAsync(response, () -> {
            Principal caller = caller(Role.SUBMIT, "submit jobs");
            int count = request.getJobsCount();
            if (count == 0 || count > Limits.MAX_BATCH) {
                throw InvalidArgument.of("jobs", "must hold 1 to " + Limits.MAX_BATCH + " jobs, got " + count);
            }
            List<NewJob> jobs = new ArrayList<>(count);
            List<String> prefixes = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                prefixes.add("jobs[" + i + "]");
                jobs.add(specs.toNewJob(prefixes.get(i), request.getJobs(i), caller));
            }
            requireDependencies(jobs, prefixes, caller);
            Tracing.Submit trace = tracing.submit(jobs.get(0).type(), jobs.get(0).queue(), jobs.size());
            jobs.replaceAll(job -> inTrace(job, trace));
            return traced(trace, dispatcher.submit(jobs)).thenApply(outcomes -> {
                counted(outcomes);
                SubmitBatchResponse.Builder batch = SubmitBatchResponse.newBuilder();
                outcomes.forEach(outcome -> batch.addResults(toResponse(outcome)));
                return batch.build();
            });
        });
    }

    private static NewJob inTrace(NewJob job, Tracing.Submit trace) {
        return trace.isNothing() || trace.carrier().isEmpty() ? job : job.inTrace(trace.carrier().traceParent(), trace.carrier().traceState());
    }

    private static java.util.concurrent.CompletableFuture<List<SubmitOutcome>> traced(Tracing.Submit trace,
            java.util.concurrent.CompletableFuture<List<SubmitOutcome>> submitted) {
        if (trace.isNothing()) {
            return submitted;
        }
        return submitted.whenComplete((outcomes, error) -> {
            if (error != null) {
                trace.failed(error);
            } else {
                trace.submitted(outcomes.stream().map(o -> Long.toString(o.job().id())).toList());
            }
        });
    }

    private List<SubmitOutcome> counted(List<SubmitOutcome> outcomes) {
        for (SubmitOutcome outcome : outcomes) {
            if (outcome.created()) {
                metrics.submitted(outcome.job().type(), outcome.job().queue());
            }
        }
        return outcomes;
    }

    /** The job as stored, minus the payload the caller just sent (a batch would echo megabytes). */
    private static SubmitResponse toResponse(SubmitOutcome outcome) {
        return SubmitResponse.newBuilder()
                .setJob(ProtoJobs.toProto(outcome.job()).toBuilder().clearPayload())
                .setCreated(outcome.created())
                .build();
    }

    @Override
    public void get(GetRequest request, StreamObserver<Job> response) {
        unary(response, () -> {
            Principal caller = caller(Role.SUBMIT, "read jobs");
            long id = JobIds.parse("id", request.getId());
            JobRecord job = queries.get(id, caller.ownerScope()).orElseThrow(() -> notFound(id));
            Job proto = ProtoJobs.toProto(job);
            return job.callbackUrl() == null ? proto : proto.toBuilder().addAllCallbacks(callbacks.ofJob(id)).build();
        });
    }

    @Override
    public void list(ListRequest request, StreamObserver<ListResponse> response) {
        unary(response, () -> {
            Principal caller = caller(Role.SUBMIT, "list jobs");
            int pageSize = PageTokens.pageSize(request.getPageSize());
            List<JobStatus> states = new ArrayList<>();
            for (int i = 0; i < request.getStatesCount(); i++) {
                states.add(status("states[" + i + "]", request.getStates(i)));
            }
            JobFilter filter = new JobFilter(states,
                    request.getType().isEmpty() ? List.of() : List.of(Names.check("type", request.getType())),
                    request.getQueue().isEmpty() ? List.of() : List.of(Names.check("queue", request.getQueue())),
                    ownerFilter(caller, "owner", request.getOwner()),
                    JobSpecs.labels("labels", request.getLabelsMap()),
                    request.getPayloadContains().isEmpty() ? null
                            : json.checkObject("payload_contains", request.getPayloadContains(), Limits.MAX_SCHEMA_BYTES),
                    request.getParentId().isEmpty() ? null : JobIds.parse("parent_id", request.getParentId()),
                    PAGES.decode(request.getPageToken()),
                    request.getOldestFirst(),
                    pageSize + 1);
            List<JobRecord> jobs = queries.list(filter);
            ListResponse.Builder page = ListResponse.newBuilder();
            int size = 0;
            for (int i = 0; i < Math.min(pageSize, jobs.size()); i++) {
                Job job = ProtoJobs.toProto(jobs.get(i));
                if (i > 0 && size + job.getSerializedSize() > MAX_PAGE_BYTES) {
                    // a smaller page rather than one the client cannot receive
                    return page.setNextPageToken(PAGES.encode(jobs.get(i - 1).id())).build();
                }
                page.addJobs(job);
                size += job.getSerializedSize();
            }
            if (jobs.size() > pageSize) {
                page.setNextPageToken(PAGES.encode(jobs.get(pageSize - 1).id()));
            }
            return page.build();
        });
    }

    @Override
    public void createSchedule(io.jobwire.api.v1.CreateScheduleRequest request,
                               StreamObserver<io.jobwire.api.v1.Schedule> response) {
        unary(response, () -> schedules.create(request, caller(Role.SUBMIT, "create schedules")));
    }

    @Override
    public void listSchedules(io.jobwire.api.v1.ListSchedulesRequest request,
                              StreamObserver<io.jobwire.api.v1.ListSchedulesResponse> response) {
        unary(response, () -> io.jobwire.api.v1.ListSchedulesResponse.newBuilder()
                .addAllSchedules(schedules.list(request.getOwner(), caller(Role.SUBMIT, "list schedules"))).build());
    }

    @Override
    public void pauseSchedule(io.jobwire.api.v1.ScheduleRef request, StreamObserver<io.jobwire.api.v1.Schedule> response) {
        unary(response, () -> schedules.pause(request, caller(Role.SUBMIT, "pause schedules"), true));
    }

    @Override
    public void resumeSchedule(io.jobwire.api.v1.ScheduleRef request, StreamObserver<io.jobwire.api.v1.Schedule> response) {
        unary(response, () -> schedules.pause(request, caller(Role.SUBMIT, "resume schedules"), false));
    }

    @Override
    public void deleteSchedule(io.jobwire.api.v1.ScheduleRef request, StreamObserver<io.jobwire.api.v1.Schedule> response) {
        unary(response, () -> schedules.delete(request, caller(Role.SUBMIT, "delete schedules")));
    }

    @Override
    public void pause(io.jobwire.api.v1.PauseRequest request, StreamObserver<io.jobwire.api.v1.Paused> response) {
        unary(response, () -> pauses.pause(request, caller(Role.ADMIN, "pause queues or types")));
    }

    @Override
    public void resume(io.jobwire.api.v1.ResumeRequest request,
                       StreamObserver<io.jobwire.api.v1.ResumeResponse> response) {
        unary(response, () -> {
            caller(Role.ADMIN, "resume queues or types");
            return pauses.resume(request);
        });
    }

    @Override
    public void setRateLimit(io.jobwire.api.v1.SetRateLimitRequest request,
                             StreamObserver<io.jobwire.api.v1.RateLimit> response) {
        unary(response, () -> rates.set(request, caller(Role.ADMIN, "set rate limits")));
    }

    @Override
    public void deleteRateLimit(io.jobwire.api.v1.DeleteRateLimitRequest request,
                                StreamObserver<io.jobwire.api.v1.RateLimit> response) {
        unary(response, () -> {
            caller(Role.ADMIN, "delete rate limits");
            return rates.delete(request);
        });
    }

    @Override
    public void listRateLimits(io.jobwire.api.v1.ListRateLimitsRequest request,
                               StreamObserver<io.jobwire.api.v1.ListRateLimitsResponse> response) {
        unary(response, () -> rates.list(caller(Role.SUBMIT, "list rate limits")));
    }

    @Override
    public void listPaused(io.jobwire.api.v1.ListPausedRequest request,
                           StreamObserver<io.jobwire.api.v1.ListPausedResponse> response) {
        unary(response, () -> {
            caller(Role.SUBMIT, "list paused queues and types");
            return pauses.list();
        });
    }

    @Override
    public void cancel(CancelRequest request, StreamObserver<Job> response) {
        unary(response, () -> {
            Principal caller = caller(Role.SUBMIT, "cancel jobs");
            long id = JobIds.parse("id", request.getId());
            String reason = Texts.check("reason", request.getReason(), Limits.MAX_REASON);
            Job cancelled = transition(id, "cancelled", "QUEUED, RUNNING, HELD or WAITING",
                    store.cancel(id, caller.ownerScope(), reason.isEmpty() ? "cancelled" : "cancelled: " + reason));
            metrics.cancelled(cancelled.getType(), cancelled.getQueue());
            log.atInfo().addKeyValue("job_id", cancelled.getId()).addKeyValue("job_type", cancelled.getType())
                    .addKeyValue("owner", cancelled.getOwner()).addKeyValue("by", caller.name())
                    .log("job {} ({}) cancelled by {}", cancelled.getId(), cancelled.getType(), caller.name());
            return cancelled;
        });
    }

    @Override
    public void retry(RetryRequest request, StreamObserver<Job> response) {
        unary(response, () -> {
            Principal caller = caller(Role.SUBMIT, "retry jobs");
            long id = JobIds.parse("id", request.getId());
            return transition(id, "retried", "FAILED, CANCELLED or HELD", store.retry(id, caller.ownerScope()));
        });
    }

    @Override
    public void hold(HoldRequest request, StreamObserver<Job> response) {
        unary(response, () -> {
            Principal caller = caller(Role.SUBMIT, "hold jobs");
            long id = JobIds.parse("id", request.getId());
            return transition(id, "held", "QUEUED", store.hold(id, caller.ownerScope()));
        });
    }

    @Override
    public void release(ReleaseRequest request, StreamObserver<Job> response) {
        unary(response, () -> {
            Principal caller = caller(Role.SUBMIT, "release jobs");
            long id = JobIds.parse("id", request.getId());
            return transition(id, "released", "HELD", store.unhold(id, caller.ownerScope()));
        });
    }

    private static Job transition(long id, String verb, String allowed, Transition transition) {
        if (!transition.found()) {
            throw notFound(id);
        }
        if (!transition.applied()) {
            throw Status.FAILED_PRECONDITION.withDescription("job " + id + " is " + transition.job().state()
                    + "; only " + allowed + " jobs can be " + verb).asRuntimeException();
        }
        return ProtoJobs.toProto(transition.job());
    }

    @Override
    public void stats(StatsRequest request, StreamObserver<StatsResponse> response) {
        unary(response, () -> {
            String type = request.getType().isEmpty() ? null : Names.check("type", request.getType());
            String queue = request.getQueue().isEmpty() ? null : Names.check("queue", request.getQueue());
            StatsResponse.Builder stats = StatsResponse.newBuilder()
                    .setTakenAt(ProtoJobs.timestamp(queries.databaseNow()));
            for (QueueCounts counts : queries.queueCounts(type, queue, Principal.current().ownerScope())) {
                stats.addQueues(QueueStats.newBuilder()
                        .setType(counts.type())
                        .setQueue(counts.queue())
                        .setQueued(counts.queued())
                        .setScheduled(counts.scheduled())
                        .setRunning(counts.running())
                        .setSucceeded(counts.succeeded())
                        .setFailed(counts.failed())
                        .setCancelled(counts.cancelled())
                        .setHeld(counts.held())
                        .setWaiting(counts.waiting())
                        .setAttempts(counts.attempts())
                        .setAttemptErrors(counts.attemptErrors())
                        .setOldestQueuedAge(ProtoJobs.duration(counts.oldestQueuedAge())));
            }
            String ownWorkersOnly = Principal.current().ownerScope();
            for (WorkerSessionRecord session : registry.liveSessions()) {
                if ((ownWorkersOnly == null || ownWorkersOnly.equals(session.principal()))
                        && (type == null || session.jobTypes().contains(type))
                        && (queue == null || session.queues().isEmpty() || session.queues().contains(queue))) {
                    stats.addWorkers(WorkerInfo.newBuilder()
                            .setWorkerId(session.workerId())
                            .setSessionId(session.sessionId())
                            .setBrokerId(session.brokerId())
                            .addAllJobTypes(session.jobTypes())
                            .addAllQueues(session.queues())
                            .setMaxConcurrency(session.maxConcurrency())
                            .setInFlight(session.inFlight())
                            .setFreeCapacity(session.freeCapacity())
                            .setConnectedAt(ProtoJobs.timestamp(session.connectedAt()))
                            .setLastSeenAt(ProtoJobs.timestamp(session.lastSeenAt())));
                }
            }
            return stats.build();
        });
    }

    @Override
    public void listJobTypes(ListJobTypesRequest request, StreamObserver<ListJobTypesResponse> response) {
        unary(response, () -> {
            Principal caller = Principal.current();
            Map<String, JobTypeRecord> announced = new java.util.TreeMap<>();
            registry.jobTypes().forEach(type -> announced.put(type.name(), type));
            java.util.SortedSet<String> names = new java.util.TreeSet<>(announced.keySet());
            types.all().forEach(type -> names.add(type.registration().name()));
            ListJobTypesResponse.Builder answer = ListJobTypesResponse.newBuilder();
            for (String name : names) {
                if (caller.isAdmin() || caller.mayUseType(name)) { // a token sees its own types, not every team's
                    answer.addJobTypes(JobTypeInfos.info(name, types.find(name), announced.get(name)));
                }
            }
            return answer.build();
        });
    }

    @Override
    public void getJobType(GetJobTypeRequest request, StreamObserver<JobTypeInfo> response) {
        unary(response, () -> {
            String name = Names.check("name", request.getName());
            Principal caller = Principal.current();
            TypeRegistry.Registered registered = types.findFresh(name);
            JobTypeRecord announced = registry.jobTypes().stream().filter(type -> type.name().equals(name))
                    .findFirst().orElse(null);
            if (registered == null && announced == null || !caller.isAdmin() && !caller.mayUseType(name)) {
                throw Status.NOT_FOUND.withDescription("no job type " + name + " is registered or announced")
                        .asRuntimeException();
            }
            return JobTypeInfos.info(name, registered, announced);
        });
    }

    @Override
    public void registerJobType(RegisterJobTypeRequest request, StreamObserver<JobTypeInfo> response) {
        unary(response, () -> {
            Principal caller = caller(Role.ADMIN, "register job types");
            if (!request.hasRegistration()) {
                throw InvalidArgument.of("registration", "is required");
            }
            var registration = JobTypeInfos.registration(request.getRegistration(), caller.name(), json);
            TypeRegistry.Registered registered;
            try {
                registered = types.register(registration);
            } catch (TypeRegistry.InvalidSchemaException e) {
                throw InvalidArgument.of("registration." + e.field(), e.problem());
            }
            JobTypeRecord announced = registry.jobTypes().stream().filter(type -> type.name().equals(registration.name()))
                    .findFirst().orElse(null);
            return JobTypeInfos.info(registration.name(), registered, announced);
        });
    }

    @Override
    public void unregisterJobType(UnregisterJobTypeRequest request, StreamObserver<JobTypeInfo> response) {
        unary(response, () -> {
            caller(Role.ADMIN, "unregister job types");
            String name = Names.check("name", request.getName());
            var removed = types.unregister(name).orElseThrow(() -> Status.NOT_FOUND
                    .withDescription("job type " + name + " is not registered").asRuntimeException());
            return JobTypeInfos.info(name, new TypeRegistry.Registered(removed, null), null);
        });
    }

    // ---------------------------------------------------------------- quotas

    @Override
    public void setQuota(SetQuotaRequest request, StreamObserver<Quota> response) {
        unary(response, () -> {
            Principal caller = caller(Role.ADMIN, "set quotas");
            if (!request.hasQuota()) {
                throw InvalidArgument.of("quota", "is required");
            }
            QuotaStore.Quota stored = quotaStore.set(QuotaInfos.quota(request.getQuota(), caller.name()));
            quotas.refresh();
            return QuotaInfos.toProto(stored);
        });
    }

    @Override
    public void deleteQuota(DeleteQuotaRequest request, StreamObserver<Quota> response) {
        unary(response, () -> {
            caller(Role.ADMIN, "delete quotas");
            String owner = Names.check("owner", request.getOwner());
            String pattern = QuotaInfos.pattern("type_pattern", request.getTypePattern());
            QuotaStore.Quota removed = quotaStore.delete(owner, pattern).orElseThrow(() -> Status.NOT_FOUND
                    .withDescription("owner " + owner + " has no quota for types " + pattern).asRuntimeException());
            quotas.refresh();
            return QuotaInfos.toProto(removed);
        });
    }

    @Override
    public void listQuotas(ListQuotasRequest request, StreamObserver<ListQuotasResponse> response) {
        unary(response, () -> {
            Principal caller = Principal.current();
            String owner = ownerFilter(caller, "owner", request.getOwner());
            List<QuotaStore.Quota> listed = quotaStore.all().stream()
                    .filter(quota -> owner == null || quota.owner().equals(owner)).toList();
            ListQuotasResponse.Builder answer = ListQuotasResponse.newBuilder();
            quotaStore.usage(listed).forEach(usage -> answer.addQuotas(QuotaInfos.toProto(usage)));
            return answer.build();
        });
    }

    // ---------------------------------------------------------------- callbacks

    @Override
    public void listCallbacks(ListCallbacksRequest request, StreamObserver<ListCallbacksResponse> response) {
        unary(response, () -> callbacks.list(request));
    }

    @Override
    public void redeliverCallback(RedeliverCallbackRequest request, StreamObserver<CallbackDelivery> response) {
        unary(response, () -> callbacks.redeliver(request));
    }

    @Override
    public void getCallbackSecret(GetCallbackSecretRequest request, StreamObserver<CallbackSecret> response) {
        unary(response, () -> callbacks.secret(request));
    }

    // ---------------------------------------------------------------- Watch

    @Override
    public void watch(WatchRequest request, StreamObserver<WatchEvent> response) {
        ServerCallStreamObserver<WatchEvent> out = (ServerCallStreamObserver<WatchEvent>) response;
        Watcher watcher;
        Principal caller;
        try {
            caller = caller(Role.SUBMIT, "watch jobs");
            watcher = newWatcher(request, out, caller);
        } catch (RuntimeException e) {
            out.onError(Statuses.asException(e));
            return;
        }
        out.setOnCancelHandler(() -> watches.unregister(watcher));
        out.setOnReadyHandler(watcher::drain);
        if (!watches.register(watcher.ownedBy(caller.name()), maxWatches)) {
            out.onError(Status.RESOURCE_EXHAUSTED.withDescription(caller.name() + " already has " + maxWatches
                    + " watch streams open, the most one principal may hold").asRuntimeException());
            return;
        }
        // The snapshot is read once other brokers send this one every change: nothing they commit after it is missed.
        watches.whenOthersWillTell(() -> {
            try {
                startWatch(request, out, watcher, caller);
            } catch (RuntimeException e) {
                watches.unregister(watcher);
                out.onError(Statuses.asException(e));
            }
        });
    }

    private void startWatch(WatchRequest request, ServerCallStreamObserver<WatchEvent> out, Watcher watcher,
                            Principal caller) {
        if (request.getIdsCount() > 0) {
            List<Long> ids = request.getIdsList().stream().map(JobIds::parse).distinct().toList();
            watches.currentRows(ids).whenComplete((rows, error) -> {
                try {
                    if (error != null) {
                        throw error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                                ? error.getCause() : error;
                    }
                    sendSnapshot(watcher, owned(ids, rows, caller));
                } catch (Throwable e) {
                    watches.unregister(watcher);
                    out.onError(Statuses.asException(e));
                }
            });
            return;
        }
        try {
            sendSnapshot(watcher, filterSnapshot(request, caller));
        } catch (RuntimeException e) {
            watches.unregister(watcher);
            out.onError(Statuses.asException(e));
        }
    }

    private static void sendSnapshot(Watcher watcher, List<JobRecord> snapshot) {
        Map<Long, Job> protos = new HashMap<>();
        snapshot.forEach(job -> protos.put(job.id(), ProtoJobs.toProto(job)));
        watcher.sendSnapshot(snapshot, protos);
    }

    /** The watched jobs, in order; NOT_FOUND for an id that does not exist or belongs to another owner. */
    private static List<JobRecord> owned(List<Long> ids, List<java.util.Optional<JobRecord>> rows, Principal caller) {
        String scope = caller.ownerScope();
        List<JobRecord> jobs = new ArrayList<>(ids.size());
        for (int i = 0; i < ids.size(); i++) {
            JobRecord job = rows.get(i).orElse(null);
            if (job == null || scope != null && !scope.equals(job.owner())) {
                throw notFound(ids.get(i));
            }
            jobs.add(job);
        }
        return jobs;
    }

    private Watcher newWatcher(WatchRequest request, ServerCallStreamObserver<WatchEvent> out, Principal caller) {
        if (request.getIdsCount() > 0 && request.hasFilter()) {
            throw InvalidArgument.of("ids", "give either ids or a filter, not both");
        }
        if (request.getIdsCount() > 0) {
            if (request.getIdsCount() > Limits.MAX_WATCH_IDS) {
                throw InvalidArgument.of("ids", "at most " + Limits.MAX_WATCH_IDS + " ids, got " + request.getIdsCount());
            }
            Set<Long> ids = new LinkedHashSet<>();
            for (int i = 0; i < request.getIdsCount(); i++) {
                ids.add(JobIds.parse("ids[" + i + "]", request.getIds(i)));
            }
            return Watcher.forIds(out, ids);
        }
        if (!request.hasFilter()) {
            throw InvalidArgument.of("ids", "give job ids or a filter to watch");
        }
        WatchFilter filter = request.getFilter();
        if (filter.getSnapshotLimit() < 0 || filter.getSnapshotLimit() > Limits.MAX_SNAPSHOT) {
            throw InvalidArgument.of("filter.snapshot_limit", "must be between 0 and " + Limits.MAX_SNAPSHOT);
        }
        Set<String> types = names("filter.types", filter.getTypesList());
        Set<String> queues = names("filter.queues", filter.getQueuesList());
        Set<JobStatus> states = EnumSet.noneOf(JobStatus.class);
        for (int i = 0; i < filter.getStatesCount(); i++) {
            states.add(status("filter.states[" + i + "]", filter.getStates(i)));
        }
        String owner = ownerFilter(caller, "filter.owner", filter.getOwner());
        return Watcher.forFilter(out, new Watcher.Filter(types, queues, states, owner), maxWatchBacklog);
    }

    private List<JobRecord> filterSnapshot(WatchRequest request, Principal caller) {
        WatchFilter filter = request.getFilter();
        List<JobStatus> states = new ArrayList<>();
        filter.getStatesList().forEach(state -> states.add(ProtoJobs.status(state)));
        int limit = filter.getSnapshotLimit() == 0 ? Limits.DEFAULT_SNAPSHOT : filter.getSnapshotLimit();
        return queries.list(new JobFilter(states.isEmpty() ? UNFINISHED : states, filter.getTypesList(),
                filter.getQueuesList(), ownerFilter(caller, "filter.owner", filter.getOwner()), Map.of(), null,
                null, null, false, limit));
    }

    private static Set<String> names(String field, List<String> values) {
        Set<String> names = new LinkedHashSet<>();
        for (int i = 0; i < values.size(); i++) {
            names.add(Names.check(field + "[" + i + "]", values.get(i)));
        }
        return names;
    }

    private static JobStatus status(String field, JobState state) {
        JobStatus status = ProtoJobs.status(state);
        if (status == null) {
            throw InvalidArgument.of(field, "must be a job state, got " + state);
        }
        return status;
    }

    /** The caller, if it has {@code role}; PERMISSION_DENIED otherwise. */
    static Principal caller(Role role, String what) {
        Principal caller = Principal.current();
        if (!caller.may(role)) {
            throw Status.PERMISSION_DENIED.withDescription("this token may not " + what + " (it needs the "
                    + role.name().toLowerCase(java.util.Locale.ROOT) + " role)").asRuntimeException();
        }
        return caller;
    }

    /**
     * The owner a listing or watch is limited to: what was asked (null: any) for an admin; the caller
     * itself for anyone else, who may not ask for another owner.
     */
    static String ownerFilter(Principal caller, String field, String requested) {
        String owner = requested.isEmpty() ? null : Names.check(field, requested);
        if (caller.isAdmin()) {
            return owner;
        }
        if (owner != null && !owner.equals(caller.name())) {
            throw Status.PERMISSION_DENIED.withDescription(field + ": only an admin may see another owner's jobs")
                    .asRuntimeException();
        }
        return caller.name();
    }

    private static io.grpc.StatusRuntimeException notFound(long id) {
        return Status.NOT_FOUND.withDescription("job " + id + " does not exist").asRuntimeException();
    }

    /** Runs a unary call: its value or its error, mapped in one place. */
    /** Like {@link #unary}, for calls answered when a group commit completes. */
    private static <T> void unaryAsync(StreamObserver<T> response, Supplier<CompletableFuture<T>> call) {
        CompletableFuture<T> answer;
        try {
            answer = call.get();
        } catch (RuntimeException e) {
            response.onError(Statuses.asException(e));
            return;
        }
        answer.whenComplete((value, error) -> {
            if (error != null) {
                response.onError(Statuses.asException(error instanceof CompletionException ? error.getCause() : error));
            } else {
                response.onNext(value);
                response.onCompleted();
            }
        });
    }

    private static <T> void unary(StreamObserver<T> response, Supplier<T> call) {
        T value;
        try {
            value = call.get();
        } catch (RuntimeException e) {
            response.onError(Statuses.asException(e));
            return;
        }
        response.onNext(value);
        response.onCompleted();
    }

}
