package io.jobwire.broker.dispatch;

import io.jobwire.broker.store.NewJob;
import io.jobwire.broker.store.QuotaStore;
import io.jobwire.broker.store.QuotaStore.Quota;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * This broker's copy of which owners have quotas, so that a submit of an owner without one takes the
 * group commit without asking the database. Reloaded every second (from maintenance) when the quotas'
 * epoch moved on any broker, and at once after a change through this broker. The limits themselves are
 * read, locked, from the database inside each submit that falls under them.
 */
public final class QuotaRules {
    private final QuotaStore store;
    private volatile Map<String, List<Quota>> byOwner = Map.of();
    private long epoch = -1;

    public QuotaRules(QuotaStore store) {
        this.store = store;
    }

    /** Reloads the quotas if they changed (on any broker) since this broker last read them. */
    public synchronized void refresh() {
        long now = store.epoch();
        if (now != epoch) {
            Map<String, List<Quota>> next = new HashMap<>();
            for (Quota quota : store.all()) {
                next.computeIfAbsent(quota.owner(), owner -> new ArrayList<>()).add(quota);
            }
            byOwner = Map.copyOf(next);
            epoch = now;
        }
    }

    /** The quotas that cover at least one of the jobs (by its owner and type). */
    public List<Quota> covering(List<NewJob> jobs) {
        Map<String, List<Quota>> rules = byOwner;
        if (rules.isEmpty()) {
            return List.of();
        }
        List<Quota> covering = new ArrayList<>();
        for (NewJob job : jobs) {
            for (Quota quota : rules.getOrDefault(job.owner(), List.of())) {
                if (quota.covers(job.type()) && !covering.contains(quota)) {
                    covering.add(quota);
                }
            }
        }
        return covering;
    }
}
