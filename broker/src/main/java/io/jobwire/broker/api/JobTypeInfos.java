package io.jobwire.broker.api;

import com.google.protobuf.Duration;
import io.jobwire.api.v1.FairShare;
import io.jobwire.api.v1.JobTypeDefaults;
import io.jobwire.api.v1.JobTypeInfo;
import io.jobwire.api.v1.JobTypeRegistration;
import io.jobwire.api.v1.RetryPolicy;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.store.JobTypeRecord;
import io.jobwire.broker.store.TypeRegistrations.Registration;
import io.jobwire.broker.types.TypeRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/** The type registry at the edge: a {@link JobTypeRegistration} checked field by field, and {@link JobTypeInfo}s. */
final class JobTypeInfos {
    private static final int MAX_USE = 256;

    private JobTypeInfos() {
    }

    /** Checks a registration as an admin sent it; refuses it naming the field (schemas are compiled later). */
    static Registration registration(JobTypeRegistration proto, String registeredBy, JsonText json) {
        String prefix = "registration";
        String name = Names.check(prefix + ".name", proto.getName());
        String description = Texts.check(prefix + ".description", proto.getDescription(), Limits.MAX_DESCRIPTION);
        String documentation = Texts.check(prefix + ".documentation", proto.getDocumentation(), Limits.MAX_DOCUMENTATION);
        String payloadSchema = schema(prefix + ".payload_schema", proto.getPayloadSchema(), json);
        String resultSchema = schema(prefix + ".result_schema", proto.getResultSchema(), json);
        if (proto.getUsesCount() > Limits.MAX_USES) {
            throw InvalidArgument.of(prefix + ".uses", "at most " + Limits.MAX_USES + " entries, got " + proto.getUsesCount());
        }
        List<String> uses = new ArrayList<>();
        for (int i = 0; i < proto.getUsesCount(); i++) {
            String use = Texts.check(prefix + ".uses[" + i + "]", proto.getUses(i).strip(), MAX_USE);
            if (use.isEmpty()) {
                throw InvalidArgument.of(prefix + ".uses[" + i + "]", "must not be empty");
            }
            uses.add(use);
        }
        JobTypeDefaults defaults = proto.getDefaults();
        String queue = defaults.getQueue().isEmpty() ? null : Names.check(prefix + ".defaults.queue", defaults.getQueue());
        Long leaseMs = defaults.hasLeaseDuration() ? JobSpecs.duration(prefix + ".defaults.lease_duration",
                defaults.getLeaseDuration(), Limits.MIN_LEASE, Limits.MAX_LEASE).toMillis() : null;
        Integer maxAttempts = null;
        if (defaults.getMaxAttempts() != 0) {
            if (defaults.getMaxAttempts() < 1 || defaults.getMaxAttempts() > Limits.MAX_ATTEMPTS) {
                throw InvalidArgument.of(prefix + ".defaults.max_attempts", "must be between 1 and " + Limits.MAX_ATTEMPTS
                        + " (0 means the broker's " + Limits.DEFAULT_MAX_ATTEMPTS + "), got " + defaults.getMaxAttempts());
            }
            maxAttempts = defaults.getMaxAttempts();
        }
        Long retryInitial = null;
        Long retryMax = null;
        if (defaults.hasRetryPolicy()) {
            RetryPolicy policy = defaults.getRetryPolicy();
            if (policy.hasInitialDelay()) {
                retryInitial = JobSpecs.duration(prefix + ".defaults.retry_policy.initial_delay", policy.getInitialDelay(),
                        java.time.Duration.ZERO, Limits.MAX_RETRY_INITIAL).toMillis();
            }
            if (policy.hasMaxDelay()) {
                retryMax = JobSpecs.duration(prefix + ".defaults.retry_policy.max_delay", policy.getMaxDelay(),
                        java.time.Duration.ZERO, Limits.MAX_RETRY_DELAY).toMillis();
            }
            if (retryInitial != null && retryMax != null && retryMax < retryInitial) {
                throw InvalidArgument.of(prefix + ".defaults.retry_policy.max_delay", "must not be shorter than initial_delay");
            }
        }
        Long runTimeoutMs = defaults.hasRunTimeout() ? JobSpecs.duration(prefix + ".defaults.run_timeout",
                defaults.getRunTimeout(), Limits.MIN_RUN_TIMEOUT, Limits.MAX_RUN_TIMEOUT).toMillis() : null;
        String concurrencyKey = defaults.getConcurrencyKey().isEmpty() ? null
                : Texts.check(prefix + ".defaults.concurrency_key", defaults.getConcurrencyKey(), Limits.MAX_CONCURRENCY_KEY);
        Integer concurrencyLimit = JobSpecs.concurrencyLimit(prefix + ".defaults.concurrency_limit",
                defaults.getConcurrencyLimit());
        String concurrencyStrategy = JobSpecs.strategy(prefix + ".defaults.concurrency_strategy",
                defaults.getConcurrencyStrategy());
        String rateKey = defaults.getRateKey().isEmpty() ? null
                : Texts.check(prefix + ".defaults.rate_key", defaults.getRateKey(), Limits.MAX_RATE_KEY);
        Map<String, Integer> fairWeights = proto.hasFairShare() ? fairWeights(prefix + ".fair_share.weights",
                proto.getFairShare()) : null;
        return new Registration(name, description, documentation, payloadSchema, resultSchema, uses, queue, leaseMs,
                maxAttempts, retryInitial, retryMax, runTimeoutMs, concurrencyKey, concurrencyLimit, concurrencyStrategy,
                rateKey, fairWeights, 0, registeredBy, null, null);
    }

    private static Map<String, Integer> fairWeights(String field, FairShare fair) {
        if (fair.getWeightsCount() > Limits.MAX_FAIR_WEIGHTS) {
            throw InvalidArgument.of(field, "at most " + Limits.MAX_FAIR_WEIGHTS + " owners, got " + fair.getWeightsCount());
        }
        Map<String, Integer> weights = new TreeMap<>();
        for (Map.Entry<String, Integer> weight : new TreeMap<>(fair.getWeightsMap()).entrySet()) {
            String owner = Names.check(field, weight.getKey());
            if (weight.getValue() < 1 || weight.getValue() > Limits.MAX_FAIR_WEIGHT) {
                throw InvalidArgument.of(field + "[" + owner + "]", "must be between 1 and " + Limits.MAX_FAIR_WEIGHT
                        + ", got " + weight.getValue());
            }
            weights.put(owner, weight.getValue());
        }
        return weights;
    }

    /** Well-formed JSON that jsonb takes, within the size limit; whether it is a schema is checked when compiled. */
    private static String schema(String field, String text, JsonText json) {
        return text.isBlank() ? null : json.check(field, text, null, Limits.MAX_SCHEMA_BYTES);
    }

    /** What the broker knows of one type: its registration, what workers announced, or both (never neither). */
    static JobTypeInfo info(String name, TypeRegistry.Registered registered, JobTypeRecord announced) {
        JobTypeInfo.Builder info = JobTypeInfo.newBuilder().setName(name);
        if (announced != null) {
            info.setDescription(announced.description())
                    .setWorkersOnline(announced.workersOnline())
                    .setFirstSeenAt(ProtoJobs.timestamp(announced.firstSeenAt()))
                    .setLastSeenAt(ProtoJobs.timestamp(announced.lastSeenAt()));
            if (announced.payloadSchema() != null) {
                info.setPayloadSchema(announced.payloadSchema());
            }
        }
        if (registered != null) {
            Registration type = registered.registration();
            info.setRegistration(toProto(type))
                    .setRegistrationVersion(type.version())
                    .setRegisteredBy(type.registeredBy())
                    .setRegisteredAt(ProtoJobs.timestamp(type.updatedAt()))
                    .setAnnouncedSchemaDiffers(announced != null && announced.payloadSchema() != null
                            && !Objects.equals(announced.payloadSchema(), type.payloadSchema()));
        }
        return info.build();
    }

    private static JobTypeRegistration toProto(Registration type) {
        JobTypeDefaults.Builder defaults = JobTypeDefaults.newBuilder();
        if (type.defaultQueue() != null) {
            defaults.setQueue(type.defaultQueue());
        }
        if (type.defaultLeaseMs() != null) {
            defaults.setLeaseDuration(millis(type.defaultLeaseMs()));
        }
        if (type.defaultMaxAttempts() != null) {
            defaults.setMaxAttempts(type.defaultMaxAttempts());
        }
        if (type.retryInitialMs() != null || type.retryMaxMs() != null) {
            RetryPolicy.Builder retry = RetryPolicy.newBuilder();
            if (type.retryInitialMs() != null) {
                retry.setInitialDelay(millis(type.retryInitialMs()));
            }
            if (type.retryMaxMs() != null) {
                retry.setMaxDelay(millis(type.retryMaxMs()));
            }
            defaults.setRetryPolicy(retry);
        }
        if (type.defaultRunTimeoutMs() != null) {
            defaults.setRunTimeout(millis(type.defaultRunTimeoutMs()));
        }
        if (type.defaultConcurrencyKey() != null) {
            defaults.setConcurrencyKey(type.defaultConcurrencyKey());
        }
        if (type.defaultConcurrencyLimit() != null) {
            defaults.setConcurrencyLimit(type.defaultConcurrencyLimit());
        }
        if (type.defaultConcurrencyStrategy() != null) {
            defaults.setConcurrencyStrategy(ProtoJobs.strategy(type.defaultConcurrencyStrategy()));
        }
        if (type.defaultRateKey() != null) {
            defaults.setRateKey(type.defaultRateKey());
        }
        JobTypeRegistration.Builder proto = JobTypeRegistration.newBuilder().setName(type.name())
                .setDescription(type.description()).setDocumentation(type.documentation()).addAllUses(type.uses())
                .setDefaults(defaults);
        if (type.payloadSchema() != null) {
            proto.setPayloadSchema(type.payloadSchema());
        }
        if (type.resultSchema() != null) {
            proto.setResultSchema(type.resultSchema());
        }
        if (type.fairWeights() != null) {
            proto.setFairShare(FairShare.newBuilder().putAllWeights(type.fairWeights()));
        }
        return proto.build();
    }

    private static Duration millis(long millis) {
        return Duration.newBuilder().setSeconds(millis / 1000).setNanos((int) (millis % 1000) * 1_000_000).build();
    }
}
