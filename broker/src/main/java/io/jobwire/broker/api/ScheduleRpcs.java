package io.jobwire.broker.api;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Status;
import io.jobwire.api.v1.CreateScheduleRequest;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.MissedFires;
import io.jobwire.api.v1.Schedule;
import io.jobwire.api.v1.ScheduleRef;
import io.jobwire.broker.auth.Principal;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.dispatch.Dispatcher;
import io.jobwire.broker.metrics.BrokerMetrics;
import io.jobwire.broker.schedules.ScheduleTimes;
import io.jobwire.broker.store.NewJob;
import io.jobwire.broker.store.QuotaExceededException;
import io.jobwire.broker.store.ScheduleStore;
import io.jobwire.broker.store.SubmitOutcome;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Schedules: the RPCs, and the pass that fires them ({@link #fireDue}, every second on every broker). A
 * fire submits its job through the ordinary submit path (quotas, schema, dispatch to a waiting worker)
 * with the idempotency key {@code schedule:<name>:<fire time>}, and only then is the schedule's row moved
 * on, in the transaction that locked it: a fire is made once, whoever fires it and whoever dies.
 */
public final class ScheduleRpcs {
    private static final Logger log = LoggerFactory.getLogger(ScheduleRpcs.class);
    private static final int NEXT_SHOWN = 5;
    private static final int DUE_PER_PASS = 100;

    private final ScheduleStore store;
    private final JobSpecs specs;
    private final Dispatcher dispatcher;
    private final BrokerMetrics metrics;
    private final Function<String, Optional<Principal>> ownerRights;
    private final Clock clock;

    /**
     * @param ownerRights what an owner may submit now (from the tokens; empty: nothing any more), as
     *                    which its schedule's fires are submitted
     */
    public ScheduleRpcs(ScheduleStore store, JobSpecs specs, Dispatcher dispatcher, BrokerMetrics metrics,
                        Function<String, Optional<Principal>> ownerRights, Clock clock) {
        this.store = store;
        this.specs = specs;
        this.dispatcher = dispatcher;
        this.metrics = metrics;
        this.ownerRights = ownerRights;
        this.clock = clock;
    }

    Schedule create(CreateScheduleRequest request, Principal caller) {
        String name = Names.check("name", request.getName());
        boolean cron = !request.getCron().isBlank();
        if (cron == request.hasEvery()) {
            throw InvalidArgument.of("cron", "give exactly one of cron (with zone) and every");
        }
        if (!request.hasJob()) {
            throw InvalidArgument.of("job", "is required: the job each fire submits");
        }
        JobSpec job = request.getJob();
        if (!job.getIdempotencyKey().isEmpty() || job.hasRunAt() || job.hasDelay()) {
            throw InvalidArgument.of("job", "idempotency_key, run_at and delay are the schedule's to set: leave them out");
        }
        NewJob checked = specs.toNewJob("job", job, caller); // the caller may submit it now, as it is
        // whole seconds: an interval's fires (and their jobs' keys) fall on the second
        Instant now = clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        ScheduleTimes times;
        Long everyMs = null;
        try {
            if (cron) {
                times = ScheduleTimes.cron(request.getCron(), request.getZone());
            } else {
                Duration every = Duration.ofSeconds(request.getEvery().getSeconds(), request.getEvery().getNanos());
                times = ScheduleTimes.every(every, now);
                everyMs = every.toMillis();
            }
        } catch (IllegalArgumentException e) {
            throw InvalidArgument.of(cron ? "cron" : "every", e.getMessage().replaceFirst("^(cron|every|zone): ", ""));
        }
        Instant first = times.after(now);
        ScheduleStore.Row row = new ScheduleStore.Row(checked.owner(), name, checked.type(),
                print(job.toBuilder().setOwner(checked.owner()).build()),
                cron ? request.getCron().strip() : null, cron ? (request.getZone().isEmpty() ? "UTC" : request.getZone()) : null,
                everyMs, missed(request.getMissed()), request.getPaused(), first, null, null, 0, null, caller.name(), now);
        return toProto(store.create(row).orElseThrow(() -> Status.ALREADY_EXISTS.withDescription(
                "the owner " + checked.owner() + " has a schedule named " + name + " already").asRuntimeException()));
    }

    List<Schedule> list(String owner, Principal caller) {
        return store.list(JobServiceImpl.ownerFilter(caller, "owner", owner)).stream().map(this::toProto).toList();
    }

    Schedule pause(ScheduleRef ref, Principal caller, boolean paused) {
        String owner = ownerOf(ref, caller);
        String name = Names.check("name", ref.getName());
        Instant resumeAt = null;
        if (!paused) {
            ScheduleStore.Row row = store.list(owner).stream().filter(r -> r.name().equals(name)).findFirst()
                    .orElseThrow(() -> notFound(name));
            resumeAt = times(row).after(clock.instant());
        }
        return toProto(store.setPaused(owner, name, paused, resumeAt).orElseThrow(() -> notFound(name)));
    }

    Schedule delete(ScheduleRef ref, Principal caller) {
        String owner = ownerOf(ref, caller);
        String name = Names.check("name", ref.getName());
        return toProto(store.delete(owner, name).orElseThrow(() -> notFound(name)));
    }

    private static String ownerOf(ScheduleRef ref, Principal caller) {
        if (!ref.getOwner().isEmpty() && caller.isAdmin()) {
            return Names.check("owner", ref.getOwner());
        }
        return caller.name(); // another owner's schedule is as unknown as one that does not exist
    }

    private static io.grpc.StatusRuntimeException notFound(String name) {
        return Status.NOT_FOUND.withDescription("no schedule named " + name).asRuntimeException();
    }

    /** The maintenance pass: fires every schedule due now that no other broker is firing. */
    public void fireDue() {
        while (store.fireDue(clock.instant(), DUE_PER_PASS, this::fire) == DUE_PER_PASS) {
            // a full page: there may be more due
        }
    }

    private ScheduleStore.Fired fire(ScheduleStore.Row schedule) {
        ScheduleTimes.Plan plan = times(schedule).plan(schedule.nextFireAt(), clock.instant(),
                ScheduleTimes.Missed.valueOf(schedule.missed().toUpperCase(Locale.ROOT)));
        Optional<Principal> owner = ownerRights.apply(schedule.owner());
        if (owner.isEmpty()) {
            return new ScheduleStore.Fired(plan.next(), null, null, 0, "not fired: the owner " + schedule.owner()
                    + " has no token that may submit any more");
        }
        JobSpec job = parse(schedule.jobJson());
        Instant lastFire = null;
        Long lastJob = null;
        int made = 0;
        String error = plan.missedLeftOut() > 0 ? plan.missedLeftOut() + " missed fire(s) left out (missed: "
                + schedule.missed() + ")" : null;
        for (Instant fire : plan.fires()) {
            try {
                NewJob spec = specs.toNewJob("job", job.toBuilder().setIdempotencyKey("schedule:" + schedule.name() + ":" + fire)
                        .build(), owner.get());
                SubmitOutcome outcome = dispatcher.submit(List.of(spec)).get(30, TimeUnit.SECONDS).get(0);
                if (outcome.created()) {
                    metrics.submitted(outcome.job().type(), outcome.job().queue());
                }
                lastFire = fire;
                lastJob = outcome.job().id();
                made++;
            } catch (io.grpc.StatusRuntimeException e) {
                if (e.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE) {
                    throw e; // the broker is behind or the database is away: this fire again at the next pass
                }
                error = "fire of " + fire + " refused: " + e.getStatus().getDescription();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof QuotaExceededException quota) {
                    error = "fire of " + fire + " refused by a quota: " + quota.getMessage();
                } else {
                    throw new IllegalStateException("schedule " + schedule.name() + " could not submit its fire", e.getCause());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while firing " + schedule.name(), e);
            } catch (TimeoutException e) {
                throw new IllegalStateException("schedule " + schedule.name() + ": its fire's submit took over 30 s", e);
            }
        }
        if (error != null) {
            log.atWarn().addKeyValue("schedule", schedule.name()).addKeyValue("owner", schedule.owner())
                    .log("schedule {} of {}: {}", schedule.name(), schedule.owner(), error);
        }
        return new ScheduleStore.Fired(plan.next(), lastFire, lastJob, made, error);
    }

    private static ScheduleTimes times(ScheduleStore.Row row) {
        return row.cron() != null ? ScheduleTimes.cron(row.cron(), row.zone())
                : ScheduleTimes.every(Duration.ofMillis(row.everyMs()), row.createdAt());
    }

    private Schedule toProto(ScheduleStore.Row row) {
        Schedule.Builder schedule = Schedule.newBuilder()
                .setName(row.name())
                .setOwner(row.owner())
                .setJob(parse(row.jobJson()))
                .setMissed(switch (row.missed()) {
                    case "skip" -> MissedFires.MISSED_FIRES_SKIP;
                    case "all" -> MissedFires.MISSED_FIRES_ALL;
                    default -> MissedFires.MISSED_FIRES_ONCE;
                })
                .setPaused(row.paused())
                .setFires(row.fires())
                .setCreatedBy(row.createdBy())
                .setCreatedAt(ProtoJobs.timestamp(row.createdAt()));
        if (row.cron() != null) {
            schedule.setCron(row.cron()).setZone(row.zone());
        } else {
            schedule.setEvery(ProtoJobs.duration(Duration.ofMillis(row.everyMs())));
        }
        if (!row.paused()) {
            schedule.addNextFires(ProtoJobs.timestamp(row.nextFireAt()));
            times(row).next(row.nextFireAt(), NEXT_SHOWN - 1).forEach(t -> schedule.addNextFires(ProtoJobs.timestamp(t)));
        }
        if (row.lastFireAt() != null) {
            schedule.setLastFireAt(ProtoJobs.timestamp(row.lastFireAt()));
        }
        if (row.lastJobId() != null) {
            schedule.setLastJobId(Long.toString(row.lastJobId()));
        }
        if (row.lastError() != null) {
            schedule.setLastError(row.lastError());
        }
        return schedule.build();
    }

    private static String missed(MissedFires missed) {
        return switch (missed) {
            case MISSED_FIRES_SKIP -> "skip";
            case MISSED_FIRES_ALL -> "all";
            case MISSED_FIRES_UNSPECIFIED, MISSED_FIRES_ONCE -> "once";
            default -> throw InvalidArgument.of("missed", "is not a known value");
        };
    }

    private static String print(JobSpec job) {
        try {
            return JsonFormat.printer().omittingInsignificantWhitespace().print(job);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JobSpec parse(String json) {
        try {
            JobSpec.Builder job = JobSpec.newBuilder();
            JsonFormat.parser().merge(json, job);
            return job.build();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("a stored schedule's job is not a JobSpec: " + e.getMessage(), e);
        }
    }
}
