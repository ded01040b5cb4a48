package io.jobwire.broker.api;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.broker.auth.Principal;
import io.jobwire.broker.callbacks.CallbackPolicy;
import io.jobwire.broker.store.NewJob;
import io.jobwire.broker.store.TypeRegistrations;
import io.jobwire.broker.types.JsonSchema;
import io.jobwire.broker.types.TypeRegistry;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a submitted {@link JobSpec} into a {@link NewJob}, or refuses it naming the field. A registered
 * type's payload must match its schema, and its defaults fill the fields the spec leaves unset.
 */
final class JobSpecs {
    static final String DEFAULT_QUEUE = "default";

    private final Limits limits;
    private final JsonText json;
    private final TypeRegistry types;
    private final CallbackPolicy callbacks;
    private final java.util.function.Predicate<String> rateLimited;

    /** @param rateLimited whether a rate key has a limit (a job may name only such a key) */
    JobSpecs(Limits limits, JsonText json, TypeRegistry types, CallbackPolicy callbacks,
             java.util.function.Predicate<String> rateLimited) {
        this.rateLimited = rateLimited;
        this.limits = limits;
        this.json = json;
        this.types = types;
        this.callbacks = callbacks;
    }

    /**
     * @param prefix the field path of the spec, e.g. "job" or "jobs[3]"
     * @param caller who submits: the default owner; a non-admin may not submit for anyone else or for a
     *               type its token does not allow
     */
    NewJob toNewJob(String prefix, JobSpec spec, Principal caller) {
        String type = Names.check(prefix + ".type", spec.getType());
        if (!caller.mayUseType(type)) {
            throw Status.PERMISSION_DENIED.withDescription(prefix + ".type: " + (caller.job() == null
                    ? "this token may not submit jobs of type " + type
                    : "a job token may submit only the types its job type's registration lists in `uses` (within "
                            + "the owner's rights), and " + type + " is not one of them")).asRuntimeException();
        }
        TypeRegistry.Registered registered = limits.strictTypes() ? types.findFresh(type) : types.find(type);
        if (registered == null && limits.strictTypes()) {
            throw InvalidArgument.of(prefix + ".type", "type " + type + " is not registered, and this broker takes only "
                    + "registered types (serve --strict-types); an admin registers it with `jobwire types register`");
        }
        TypeRegistrations.Registration defaults = registered == null ? null : registered.registration();
        String queue = Names.checkOr(prefix + ".queue", spec.getQueue(),
                defaults != null && defaults.defaultQueue() != null ? defaults.defaultQueue() : DEFAULT_QUEUE);
        String payload = json.check(prefix + ".payload", spec.getPayload(), "{}", limits.maxPayloadBytes());
        if (registered != null && registered.payloadSchema() != null) {
            List<JsonSchema.Violation> violations = registered.payloadSchema().validate(payload);
            if (!violations.isEmpty()) {
                throw InvalidArgument.ofPayload(prefix + ".payload", type, violations);
            }
        }
        int priority = spec.getPriority();
        if (priority < Limits.MIN_PRIORITY || priority > Limits.MAX_PRIORITY) {
            throw InvalidArgument.of(prefix + ".priority", "must be between " + Limits.MIN_PRIORITY + " and "
                    + Limits.MAX_PRIORITY + ", got " + priority);
        }
        Instant runAt = null;
        long delayMs = 0;
        switch (spec.getScheduleCase()) {
            case RUN_AT -> runAt = instant(prefix + ".run_at", spec.getRunAt());
            case DELAY -> delayMs = duration(prefix + ".delay", spec.getDelay(), java.time.Duration.ZERO,
                    Limits.MAX_DELAY).toMillis();
            case SCHEDULE_NOT_SET -> { }
        }
        String key = spec.getIdempotencyKey().isEmpty() ? null
                : Texts.check(prefix + ".idempotency_key", spec.getIdempotencyKey(), Limits.MAX_IDEMPOTENCY_KEY);
        int maxAttempts = spec.getMaxAttempts() != 0 ? spec.getMaxAttempts()
                : defaults != null && defaults.defaultMaxAttempts() != null ? defaults.defaultMaxAttempts()
                : Limits.DEFAULT_MAX_ATTEMPTS;
        if (maxAttempts < 1 || maxAttempts > Limits.MAX_ATTEMPTS) {
            throw InvalidArgument.of(prefix + ".max_attempts", "must be between 1 and " + Limits.MAX_ATTEMPTS
                    + " (0 means " + Limits.DEFAULT_MAX_ATTEMPTS + "), got " + spec.getMaxAttempts());
        }
        java.time.Duration lease = spec.hasLeaseDuration()
                ? duration(prefix + ".lease_duration", spec.getLeaseDuration(), Limits.MIN_LEASE, Limits.MAX_LEASE)
                : defaults != null && defaults.defaultLeaseMs() != null ? java.time.Duration.ofMillis(defaults.defaultLeaseMs())
                : limits.defaultLease();
        Map<String, String> labels = labels(prefix + ".labels", spec.getLabelsMap());
        Long retryInitial = null;
        Long retryMax = null;
        if (spec.hasRetryPolicy()) {
            var policy = spec.getRetryPolicy();
            if (policy.hasInitialDelay()) {
                retryInitial = duration(prefix + ".retry_policy.initial_delay", policy.getInitialDelay(),
                        java.time.Duration.ZERO, Limits.MAX_RETRY_INITIAL).toMillis();
            }
            if (policy.hasMaxDelay()) {
                retryMax = duration(prefix + ".retry_policy.max_delay", policy.getMaxDelay(),
                        java.time.Duration.ZERO, Limits.MAX_RETRY_DELAY).toMillis();
            }
            if (retryInitial != null && retryMax != null && retryMax < retryInitial) {
                throw InvalidArgument.of(prefix + ".retry_policy.max_delay", "must not be shorter than initial_delay");
            }
        }
        if (defaults != null) {
            if (retryInitial == null && defaults.retryInitialMs() != null
                    && (retryMax == null || defaults.retryInitialMs() <= retryMax)) {
                retryInitial = defaults.retryInitialMs();
            }
            if (retryMax == null && defaults.retryMaxMs() != null
                    && (retryInitial == null || defaults.retryMaxMs() >= retryInitial)) {
                retryMax = defaults.retryMaxMs();
            }
        }
        Long runTimeoutMs = spec.hasRunTimeout()
                ? Long.valueOf(duration(prefix + ".run_timeout", spec.getRunTimeout(), Limits.MIN_RUN_TIMEOUT,
                        Limits.MAX_RUN_TIMEOUT).toMillis())
                : defaults != null ? defaults.defaultRunTimeoutMs() : null;
        // the job's key, limit and strategy, each where the job leaves it out from the type's defaults
        String concurrencyKey = !spec.getConcurrencyKey().isEmpty()
                ? Texts.check(prefix + ".concurrency_key", spec.getConcurrencyKey(), Limits.MAX_CONCURRENCY_KEY)
                : defaults != null ? defaults.defaultConcurrencyKey() : null;
        Integer concurrencyLimit = concurrencyLimit(prefix + ".concurrency_limit", spec.getConcurrencyLimit());
        String concurrencyStrategy = strategy(prefix + ".concurrency_strategy", spec.getConcurrencyStrategy());
        if (concurrencyKey == null) {
            if (concurrencyLimit != null || concurrencyStrategy != null) {
                throw InvalidArgument.of(prefix + ".concurrency_key", "is required with concurrency_limit or concurrency_strategy");
            }
        } else {
            concurrencyLimit = concurrencyLimit != null ? concurrencyLimit
                    : defaults != null && defaults.defaultConcurrencyLimit() != null ? defaults.defaultConcurrencyLimit() : 1;
            concurrencyStrategy = concurrencyStrategy != null ? concurrencyStrategy
                    : defaults != null && defaults.defaultConcurrencyStrategy() != null ? defaults.defaultConcurrencyStrategy()
                    : "queue";
        }
        String rateKey = !spec.getRateKey().isEmpty()
                ? Texts.check(prefix + ".rate_key", spec.getRateKey(), Limits.MAX_RATE_KEY)
                : defaults != null ? defaults.defaultRateKey() : null;
        if (rateKey != null && !rateLimited.test(rateKey)) {
            throw Status.FAILED_PRECONDITION.withDescription(prefix + ".rate_key: " + rateKey + " has no rate limit; set one "
                    + "first (jobwire rate-limit set --key " + rateKey + " --per-second N)").asRuntimeException();
        }
        String owner = Names.checkOr(prefix + ".owner", spec.getOwner(), caller.name());
        if (!caller.isAdmin() && !owner.equals(caller.name())) {
            throw Status.PERMISSION_DENIED.withDescription(prefix + ".owner: only an admin may submit jobs for another "
                    + "owner").asRuntimeException();
        }
        String callbackUrl = null;
        boolean callbackAll = false;
        if (spec.hasCallback()) {
            try {
                callbackUrl = callbacks.checkUrl(spec.getCallback().getUrl()).toString();
            } catch (IllegalArgumentException e) {
                throw InvalidArgument.of(prefix + ".callback.url", e.getMessage());
            }
            callbackAll = switch (spec.getCallback().getEvents()) {
                case CALLBACK_EVENTS_UNSPECIFIED, CALLBACK_EVENTS_FINAL -> false;
                case CALLBACK_EVENTS_ALL -> true;
                default -> throw InvalidArgument.of(prefix + ".callback.events", "is not a known value");
            };
        }
        List<Long> dependsOn = dependsOn(prefix + ".depends_on", spec.getDependsOnList());
        String onDependencyFailure = switch (spec.getOnDependencyFailure()) {
            case DEPENDENCY_FAILURE_UNSPECIFIED -> dependsOn == null ? null : "cancel";
            case DEPENDENCY_FAILURE_CANCEL -> "cancel";
            case DEPENDENCY_FAILURE_RUN -> "run";
            default -> throw InvalidArgument.of(prefix + ".on_dependency_failure", "is not a known value");
        };
        if (dependsOn == null && onDependencyFailure != null) {
            throw InvalidArgument.of(prefix + ".on_dependency_failure", "goes with depends_on");
        }
        return new NewJob(type, queue, payload, priority, runAt, delayMs, key, maxAttempts, lease.toMillis(),
                labels, retryInitial, retryMax, owner, caller.parentJob(), callbackUrl, callbackAll, null, null, runTimeoutMs,
                concurrencyKey, concurrencyLimit, concurrencyStrategy, rateKey, dependsOn, onDependencyFailure,
                defaults != null ? defaults.fairStep(owner) : null);
    }

    /**
     * Whether taking the spec may read the database (its dependencies' existence, its rate key's limit):
     * then it is not taken on a transport thread.
     */
    boolean readsDatabase(JobSpec spec) {
        if (spec.getDependsOnCount() > 0 || !spec.getRateKey().isEmpty()) {
            return true;
        }
        TypeRegistry.Registered registered = types.find(spec.getType());
        return registered != null && registered.registration().defaultRateKey() != null;
    }

    /** The ids of depends_on, each once in the order given; null for none. Whether they exist is checked apart. */
    static List<Long> dependsOn(String field, List<String> ids) {
        if (ids.isEmpty()) {
            return null;
        }
        if (ids.size() > Limits.MAX_DEPENDENCIES) {
            throw InvalidArgument.of(field, "at most " + Limits.MAX_DEPENDENCIES + " jobs, got " + ids.size());
        }
        java.util.LinkedHashSet<Long> parsed = new java.util.LinkedHashSet<>();
        for (int i = 0; i < ids.size(); i++) {
            long id;
            try {
                id = Long.parseLong(ids.get(i));
            } catch (NumberFormatException e) {
                id = -1;
            }
            if (id <= 0) {
                throw InvalidArgument.of(field + "[" + i + "]", "is not a job id: " + Texts.quote(ids.get(i)));
            }
            parsed.add(id);
        }
        return List.copyOf(parsed);
    }

    /** A concurrency limit as given (null for 0: not given), or refused. */
    static Integer concurrencyLimit(String field, int limit) {
        if (limit < 0 || limit > Limits.MAX_CONCURRENCY_LIMIT) {
            throw InvalidArgument.of(field, "must be between 1 and " + Limits.MAX_CONCURRENCY_LIMIT + " (0 means 1), got "
                    + limit);
        }
        return limit == 0 ? null : limit;
    }

    /** A concurrency strategy's stored name (null for unspecified), or refused. */
    static String strategy(String field, io.jobwire.api.v1.ConcurrencyStrategy strategy) {
        return switch (strategy) {
            case CONCURRENCY_STRATEGY_UNSPECIFIED -> null;
            case CONCURRENCY_STRATEGY_QUEUE -> "queue";
            case CONCURRENCY_STRATEGY_CANCEL_NEWEST -> "cancel-newest";
            case CONCURRENCY_STRATEGY_CANCEL_IN_PROGRESS -> "cancel-in-progress";
            default -> throw InvalidArgument.of(field, "is not a known value");
        };
    }

    static Map<String, String> labels(String field, Map<String, String> given) {
        if (given.size() > Limits.MAX_LABELS) {
            throw InvalidArgument.of(field, "at most " + Limits.MAX_LABELS + " labels, got " + given.size());
        }
        Map<String, String> labels = new LinkedHashMap<>();
        given.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(entry -> {
            String key = Names.check(field + " key", entry.getKey());
            labels.put(key, Texts.check(field + "[" + key + "]", entry.getValue(), Limits.MAX_LABEL_VALUE));
        });
        return labels;
    }

    static Instant instant(String field, Timestamp timestamp) {
        if (timestamp.getNanos() < 0 || timestamp.getNanos() > 999_999_999
                || timestamp.getSeconds() < Instant.parse("1970-01-01T00:00:00Z").getEpochSecond()
                || timestamp.getSeconds() > Instant.parse("9999-12-31T23:59:59Z").getEpochSecond()) {
            throw InvalidArgument.of(field, "must be a valid time between 1970 and 9999");
        }
        return Instant.ofEpochSecond(timestamp.getSeconds(), timestamp.getNanos());
    }

    static java.time.Duration duration(String field, Duration duration, java.time.Duration min,
                                       java.time.Duration max) {
        if (duration.getNanos() <= -1_000_000_000 || duration.getNanos() >= 1_000_000_000
                || (duration.getSeconds() > 0 && duration.getNanos() < 0)
                || (duration.getSeconds() < 0 && duration.getNanos() > 0)) {
            throw InvalidArgument.of(field, "is not a valid duration");
        }
        java.time.Duration value = java.time.Duration.ofSeconds(duration.getSeconds(), duration.getNanos());
        if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            throw InvalidArgument.of(field, "must be between " + human(min) + " and " + human(max) + ", got "
                    + human(value));
        }
        return value;
    }

    static String human(java.time.Duration duration) {
        return duration.toString().substring(2).toLowerCase();
    }
}
