package io.jobwire.broker.store;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import org.jdbi.v3.core.Jdbi;

/**
 * Admission of concurrency keys' jobs into the ready ring: a keyed job waits in {@code key_waiting}
 * until its key has a free slot (see V18); one of a rate key too then waits for a token (V24). Admission
 * takes each key's advisory lock, then counts and admits in a statement of its own, so however many brokers admit at once no key is ever over its limit.
 */
public final class ConcurrencyKeys {
    /** Waiting entries looked at per key and pass: the head of its line. */
    static final int WALK = 1_000;

    private final Jdbi jdbi;

    public ConcurrencyKeys(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** A job a key's strategy cancels: {@code full} (cancel-newest) or {@code superseded} (cancel-in-progress). */
    public record Refusal(long jobId, String key, String why) {
    }

    /**
     * What an admission pass did: jobs admitted, those of them let into the ready ring (the others, of a
     * rate key too, hold their slot and wait for a token now: see V24), the rate keys they wait for, and
     * jobs the strategies want cancelled.
     */
    public record Admission(int admitted, int ready, List<String> rateKeys, List<Refusal> refusals) {
        static final Admission NONE = new Admission(0, 0, List.of(), List.of());
    }

    /** Admits what the keys have room for, and says which jobs their strategies cancel. */
    public Admission admit(Collection<String> keys) {
        if (keys.isEmpty()) {
            return Admission.NONE;
        }
        String[] sorted = keys.stream().distinct().sorted().toArray(String[]::new);
        return jdbi.inTransaction(handle -> {
            handle.createQuery(Sql.load(ConcurrencyKeys.class, "lock_keys"))
                    .bind("keys", sorted)
                    .mapTo(Long.class)
                    .one();
            // one per job admitted: its rate key, or null for one let into the ready ring
            List<String> admitted = new ArrayList<>();
            List<Refusal> refusals = new ArrayList<>();
            handle.createQuery(Sql.load(ConcurrencyKeys.class, "admit_keys"))
                    .bind("keys", sorted)
                    .bind("walk", WALK)
                    .map((rs, ctx) -> {
                        String what = rs.getString("what");
                        if (what.equals("admitted")) {
                            admitted.add(rs.getString("rate_key"));
                        } else {
                            refusals.add(new Refusal(rs.getLong("job_id"), rs.getString("key"), what));
                        }
                        return null;
                    })
                    .list();
            return new Admission(admitted.size(), (int) admitted.stream().filter(Objects::isNull).count(),
                    admitted.stream().filter(Objects::nonNull).distinct().sorted().toList(), List.copyOf(refusals));
        });
    }

    /** Every key with jobs waiting, in key order, a page of {@code limit} at a time. */
    public List<String> waitingKeys(String after, int limit) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(ConcurrencyKeys.class, "waiting_keys"))
                .bind("after", after)
                .bind("limit", limit)
                .mapTo(String.class)
                .collect(java.util.stream.Collectors.toCollection(ArrayList::new)));
    }
}
