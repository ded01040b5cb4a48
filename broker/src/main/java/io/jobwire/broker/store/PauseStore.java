package io.jobwire.broker.store;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.mapper.RowMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code pauses} table: queues and job types an admin paused. The claim statement reads it, so a pause
 * holds on every broker from its commit on.
 */
public final class PauseStore {
    private static final Logger log = LoggerFactory.getLogger(PauseStore.class);

    /** What is paused: a queue or a job type. */
    public enum Kind {
        QUEUE, TYPE;

        String column() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        static Kind of(String column) {
            return valueOf(column.toUpperCase(java.util.Locale.ROOT));
        }
    }

    /** One pause. */
    public record Row(Kind kind, String name, String reason, String pausedBy, Instant pausedAt) {
    }

    private static final RowMapper<Row> ROWS = (rs, ctx) -> new Row(Kind.of(rs.getString("kind")), rs.getString("name"),
            rs.getString("reason"), rs.getString("paused_by"), JobRowMapper.instant(rs, "paused_at"));

    private final Jdbi jdbi;

    public PauseStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Pauses it, or returns the pause there already was. */
    public Row pause(Kind kind, String name, String reason, String pausedBy) {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(PauseStore.class, "pause"))
                .bind("kind", kind.column())
                .bind("name", name)
                .bind("reason", reason)
                .bind("pausedBy", pausedBy)
                .map(ROWS)
                .one());
    }

    /**
     * Ends the pause, and moves the ready entries parked for it back into the ring (see {@link Ring#parkPaused});
     * empty when it was not paused.
     */
    public Optional<Row> resume(Kind kind, String name) {
        Optional<Row> ended = jdbi.withHandle(handle -> handle.createQuery(Sql.load(PauseStore.class, "resume"))
                .bind("kind", kind.column())
                .bind("name", name)
                .map(ROWS)
                .findOne());
        if (ended.isPresent()) {
            try {
                Ring.unpark(jdbi);
            } catch (RuntimeException e) {
                // the pause has ended all the same: the ring's next pass moves the entries back
                log.warn("resumed {} {}; its parked jobs go back on the ring's next pass ({})", kind.column(), name, e.getMessage());
            }
        }
        return ended;
    }

    /** Every pause, oldest first. */
    public List<Row> list() {
        return jdbi.withHandle(handle -> handle.createQuery(Sql.load(PauseStore.class, "list_paused"))
                .map(ROWS)
                .list());
    }
}
