package io.jobwire.broker.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.BindableService;
import io.jobwire.broker.dispatch.Dispatcher;
import io.jobwire.broker.dispatch.QuotaRules;
import io.jobwire.broker.store.QuotaStore;
import io.jobwire.broker.dispatch.SessionRegistry;
import io.jobwire.broker.store.GroupWrites;
import io.jobwire.broker.store.JobQueries;
import io.jobwire.broker.store.JobStore;
import io.jobwire.broker.store.RegistryStore;
import io.jobwire.broker.tracing.Tracing;
import io.jobwire.broker.types.TypeRegistry;
import io.jobwire.broker.watch.WatchHub;
import io.jobwire.broker.callbacks.CallbackDeliverer;
import io.jobwire.broker.metrics.BrokerMetrics;
import io.jobwire.broker.callbacks.CallbackPolicy;
import io.jobwire.broker.store.CallbackStore;
import io.jobwire.broker.auth.Principal;
import io.jobwire.broker.store.PauseStore;
import io.jobwire.broker.store.RateLimits;
import io.jobwire.broker.dispatch.RateAdmitter;
import io.jobwire.broker.store.ScheduleStore;
import java.time.Clock;
import java.util.Optional;
import java.util.function.Function;
import java.time.Duration;

/** Builds the two gRPC services over the broker's parts. */
public final class Services {
    private final JobServiceImpl jobService;
    private final WorkerServiceImpl workerService;
    private final ScheduleRpcs schedules;

    public Services(JobStore store, GroupWrites writes, JobQueries queries, RegistryStore registry, TypeRegistry types,
                    QuotaStore quotaStore, QuotaRules quotas, SessionRegistry sessions, Dispatcher dispatcher, WatchHub watches, ObjectMapper mapper,
                    CallbackStore callbackStore, CallbackPolicy callbackPolicy, CallbackDeliverer deliverer,
                    Duration callbackRetryFor, BrokerMetrics metrics, Tracing tracing,
                    int maxPayloadBytes, Duration defaultLease, boolean strictTypes, int maxWatchBacklog, int maxWatches,
                    ScheduleStore scheduleStore, Function<String, Optional<Principal>> ownerRights, PauseStore pauseStore,
                    Runnable wakeDispatchers, RateLimits rateLimits, RateAdmitter rateAdmitter,
                    java.util.concurrent.Executor blocking, Clock clock) {
        JsonText json = new JsonText(mapper);
        RateLimitRpcs rates = new RateLimitRpcs(rateLimits, rateAdmitter);
        JobSpecs specs = new JobSpecs(new Limits(maxPayloadBytes, defaultLease, strictTypes), json, types, callbackPolicy,
                rates::isLimited);
        this.schedules = new ScheduleRpcs(scheduleStore, specs, dispatcher, metrics, ownerRights, clock);
        this.jobService = new JobServiceImpl(store, dispatcher, queries, registry, types, quotaStore, quotas, watches, specs, json,
                new CallbackRpcs(callbackStore, deliverer, callbackRetryFor), metrics, tracing, schedules,
                new PauseRpcs(pauseStore, wakeDispatchers), rates, blocking, maxWatchBacklog, maxWatches);
        Duration heartbeatInterval = defaultLease.dividedBy(3);
        this.workerService = new WorkerServiceImpl(new WorkerStream.Context(store, writes, registry, types, sessions,
                dispatcher, json, maxPayloadBytes, heartbeatInterval, clock));
    }

    public BindableService jobService() {
        return jobService;
    }

    /** The schedules: {@link ScheduleRpcs#fireDue} is the maintenance pass that fires them. */
    public ScheduleRpcs schedules() {
        return schedules;
    }

    public BindableService workerService() {
        return workerService;
    }
}
