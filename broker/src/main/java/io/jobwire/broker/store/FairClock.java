package io.jobwire.broker.store;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jdbi.v3.core.Jdbi;

/**
 * Where the claims of each fair type are: the furthest turn ({@code fair_seq}) claimed of it. A batch of an
 * owner's jobs joins there at the earliest (insert_jobs.sql), so an owner without a backlog goes next and
 * one with a backlog stays behind by it. Each broker knows what its own claims took, at once, and shares it
 * through {@code fair_clock} (a pass every 100 ms); an insert takes the greater of the two. Both only move
 * forward and never pass the real front, so the worst a late value does is let a newcomer's first job in a
 * few claims early.
 */
public final class FairClock {
    private final Jdbi jdbi;
    private final ConcurrentHashMap<String, Long> claimed = new ConcurrentHashMap<>();
    /** What {@link #publish} last wrote of each type (only its thread reads and writes it). */
    private final Map<String, Long> published = new HashMap<>();

    FairClock(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** A claim of this broker took a job of the type at this turn (0: a type without fair share). */
    void claimed(String type, long turn) {
        if (turn > 0) {
            claimed.merge(type, turn, Math::max);
        }
    }

    /** The furthest turn this broker has claimed of the type, or null if none. */
    Long furthest(String type) {
        return claimed.get(type);
    }

    /** Writes to fair_clock each type whose claims moved on since the last time; the number written. */
    public synchronized int publish() {
        List<String> types = new ArrayList<>();
        List<Long> turns = new ArrayList<>();
        claimed.forEach((type, turn) -> {
            if (!turn.equals(published.get(type))) {
                types.add(type);
                turns.add(turn);
            }
        });
        if (types.isEmpty()) {
            return 0;
        }
        jdbi.useHandle(handle -> handle.createUpdate(Sql.load(FairClock.class, "publish_fair_clock"))
                .bind("types", types.toArray(String[]::new))
                .bind("turns", turns.toArray(Long[]::new))
                .execute());
        for (int i = 0; i < types.size(); i++) {
            published.put(types.get(i), turns.get(i));
        }
        return types.size();
    }
}
