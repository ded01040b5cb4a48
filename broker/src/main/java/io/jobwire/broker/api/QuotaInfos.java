package io.jobwire.broker.api;

import io.jobwire.api.v1.Quota;
import io.jobwire.api.v1.QuotaUsage;
import io.jobwire.broker.convert.ProtoJobs;
import io.jobwire.broker.store.QuotaStore;
import io.jobwire.broker.store.QuotaStore.Window;
import java.time.Instant;

/** Quotas at the edge: a {@link Quota} checked field by field, and the answers of the quota RPCs. */
final class QuotaInfos {
    private static final int MAX_LIMIT = 1_000_000_000;

    private QuotaInfos() {
    }

    /** Checks a quota as an admin sent it. */
    static QuotaStore.Quota quota(Quota proto, String setBy) {
        String owner = Names.check("quota.owner", proto.getOwner());
        String pattern = pattern("quota.type_pattern", proto.getTypePattern());
        Integer maxWaiting = limit("quota.max_waiting", proto.getMaxWaiting());
        Integer perMinute = limit("quota.per_minute", proto.getPerMinute());
        Integer perHour = limit("quota.per_hour", proto.getPerHour());
        Integer perDay = limit("quota.per_day", proto.getPerDay());
        if (maxWaiting == null && perMinute == null && perHour == null && perDay == null) {
            throw InvalidArgument.of("quota", "sets no limit (max_waiting, per_minute, per_hour, per_day); to remove a "
                    + "quota, delete it");
        }
        return new QuotaStore.Quota(owner, pattern, maxWaiting, perMinute, perHour, perDay, setBy, null);
    }

    /** "*" (also for empty), a type name, or a prefix of one followed by "*". */
    static String pattern(String field, String pattern) {
        if (pattern.isEmpty() || pattern.equals("*")) {
            return "*";
        }
        if (pattern.endsWith("*")) {
            String prefix = pattern.substring(0, pattern.length() - 1);
            if (!prefix.isEmpty() && Names.isName(prefix)) {
                return pattern;
            }
        } else if (Names.isName(pattern)) {
            return pattern;
        }
        throw InvalidArgument.of(field, "must be *, a job type, or the start of one followed by * (email.*), got \""
                + pattern + "\"");
    }

    private static Integer limit(String field, int value) {
        if (value < 0 || value > MAX_LIMIT) {
            throw InvalidArgument.of(field, "must be between 0 (no limit) and " + MAX_LIMIT + ", got " + value);
        }
        return value == 0 ? null : value;
    }

    static Quota toProto(QuotaStore.Quota quota) {
        Quota.Builder proto = Quota.newBuilder().setOwner(quota.owner()).setTypePattern(quota.typePattern())
                .setSetBy(quota.setBy());
        if (quota.maxWaiting() != null) {
            proto.setMaxWaiting(quota.maxWaiting());
        }
        if (quota.perMinute() != null) {
            proto.setPerMinute(quota.perMinute());
        }
        if (quota.perHour() != null) {
            proto.setPerHour(quota.perHour());
        }
        if (quota.perDay() != null) {
            proto.setPerDay(quota.perDay());
        }
        if (quota.setAt() != null) {
            proto.setSetAt(ProtoJobs.timestamp(quota.setAt()));
        }
        return proto.build();
    }

    static QuotaUsage toProto(QuotaStore.Usage usage) {
        QuotaUsage.Builder proto = QuotaUsage.newBuilder().setQuota(toProto(usage.quota()))
                .setWaiting(usage.waiting())
                .setSubmittedLastMinute(usage.submitted().get(Window.MINUTE))
                .setSubmittedLastHour(usage.submitted().get(Window.HOUR))
                .setSubmittedLastDay(usage.submitted().get(Window.DAY))
                .setTakenAt(ProtoJobs.timestamp(usage.takenAt()));
        Instant minute = usage.nextFreedAt().get(Window.MINUTE);
        if (minute != null) {
            proto.setMinuteFreesAt(ProtoJobs.timestamp(minute));
        }
        Instant hour = usage.nextFreedAt().get(Window.HOUR);
        if (hour != null) {
            proto.setHourFreesAt(ProtoJobs.timestamp(hour));
        }
        Instant day = usage.nextFreedAt().get(Window.DAY);
        if (day != null) {
            proto.setDayFreesAt(ProtoJobs.timestamp(day));
        }
        return proto.build();
    }
}
