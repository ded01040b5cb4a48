package io.jobwire.broker.api;

import io.grpc.Status;
import io.jobwire.api.v1.DeleteRateLimitRequest;
import io.jobwire.api.v1.ListRateLimitsResponse;
import io.jobwire.api.v1.RateLimit;
import io.jobwire.api.v1.SetRateLimitRequest;
import io.jobwire.broker.auth.Principal;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.dispatch.RateAdmitter;
import io.jobwire.broker.store.RateLimits;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Rate limits: set, deleted and listed here, enforced by admission ({@link RateAdmitter}). A set or a
 * delete gives the key a pass at once on this broker, so its waiting jobs feel the change without
 * waiting for the maintenance pass.
 */
final class RateLimitRpcs {
    /** How long a key seen with a limit is taken to have one without asking again (a deleted limit lets
     * jobs through unlimited anyway). */
    private static final long KNOWN_FOR_NANOS = Duration.ofSeconds(1).toNanos();

    private final RateLimits store;
    private final RateAdmitter admitter;
    private final Map<String, Long> knownUntil = new ConcurrentHashMap<>();

    RateLimitRpcs(RateLimits store, RateAdmitter admitter) {
        this.store = store;
        this.admitter = admitter;
    }

    /** Whether the key has a limit: a job may name only such a key. */
    boolean isLimited(String key) {
        long now = System.nanoTime();
        Long until = knownUntil.get(key);
        if (until != null && until - now > 0) {
            return true;
        }
        if (store.known(List.of(key)).isEmpty()) {
            knownUntil.remove(key);
            return false;
        }
        if (knownUntil.size() > 10_000) {
            knownUntil.clear();
        }
        knownUntil.put(key, now + KNOWN_FOR_NANOS);
        return true;
    }

    RateLimit set(SetRateLimitRequest request, Principal admin) {
        String key = key(request.getKey());
        double perSecond = request.getPerSecond();
        if (!(perSecond > 0) || perSecond > Limits.MAX_RATE) {
            throw InvalidArgument.of("per_second", "must be more than 0 and at most " + (long) Limits.MAX_RATE + ", got "
                    + perSecond);
        }
        int burst = request.getBurst();
        if (burst < 0 || burst > Limits.MAX_BURST) {
            throw InvalidArgument.of("burst", "must be between 1 and " + Limits.MAX_BURST + " (0: per_second rounded up), got "
                    + burst);
        }
        if (burst == 0) {
            burst = (int) Math.max(1, Math.ceil(perSecond));
        }
        RateLimit limit = toProto(store.set(key, perSecond, burst, admin.name()));
        admitter.passSoon(List.of(key));
        return limit;
    }

    RateLimit delete(DeleteRateLimitRequest request) {
        String key = key(request.getKey());
        RateLimit deleted = store.delete(key).map(RateLimitRpcs::toProto).orElseThrow(() -> Status.NOT_FOUND
                .withDescription("rate key " + key + " has no limit").asRuntimeException());
        knownUntil.remove(key);
        admitter.passSoon(List.of(key));
        return deleted;
    }

    /** Every limit; the waiting jobs counted are the caller's own unless it is an admin. */
    ListRateLimitsResponse list(Principal caller) {
        ListRateLimitsResponse.Builder response = ListRateLimitsResponse.newBuilder();
        store.list(caller.isAdmin() ? null : caller.name()).forEach(limit -> response.addRateLimits(toProto(limit)));
        return response.build();
    }

    private static String key(String key) {
        if (key.isEmpty()) {
            throw InvalidArgument.of("key", "is required");
        }
        return Texts.check("key", key, Limits.MAX_RATE_KEY);
    }

    static RateLimit toProto(RateLimits.Limit limit) {
        return RateLimit.newBuilder()
                .setKey(limit.key())
                .setPerSecond(limit.perSecond())
                .setBurst(limit.burst())
                .setSetBy(limit.setBy())
                .setSetAt(ProtoJobs.timestamp(limit.setAt()))
                .setTokens(limit.tokens())
                .setWaiting(limit.waiting())
                .build();
    }
}
