package io.jobwire.broker.store;

import java.time.Instant;

/**
 * A submit refused because its jobs would pass a limit of their owner's quota; nothing was written.
 *
 * @param limitName "max-waiting", "per-minute", "per-hour" or "per-day"
 * @param usage     what was used before this submit (jobs waiting or running, or submitted in the window)
 * @param asked     the jobs of this submit the quota covers
 * @param freedAt   when there will be room for them (a window's oldest jobs leave it); null when unknown
 *                  (jobs waiting leave as they finish) or never (the batch alone is over the limit)
 * @param now       the database's time when the limit was checked
 */
public final class QuotaExceededException extends RuntimeException {
    private final transient QuotaStore.Quota quota;
    private final String limitName;
    private final long limit;
    private final long usage;
    private final int asked;
    private final Instant freedAt;
    private final Instant now;

    QuotaExceededException(QuotaStore.Quota quota, String limitName, long limit, long usage, int asked, Instant freedAt,
                           Instant now) {
        super("quota " + limitName + " of owner " + quota.owner() + " for types " + quota.typePattern() + ": limit "
                + limit + ", used " + usage + ", asked " + asked);
        this.quota = quota;
        this.limitName = limitName;
        this.limit = limit;
        this.usage = usage;
        this.asked = asked;
        this.freedAt = freedAt;
        this.now = now;
    }

    public QuotaStore.Quota quota() {
        return quota;
    }

    public String limitName() {
        return limitName;
    }

    public long limit() {
        return limit;
    }

    public long usage() {
        return usage;
    }

    public int asked() {
        return asked;
    }

    public Instant freedAt() {
        return freedAt;
    }

    public Instant now() {
        return now;
    }
}
