package io.jobwire.broker.store;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.jdbi.v3.core.Handle;

/**
 * Tells the other brokers sharing the database about job changes, with {@code pg_notify} inside the
 * transaction that makes them, so a notification is sent exactly when the change commits. The hot
 * statements build the same payload in SQL ({@code announce.sql}) and notify in the statement itself.
 *
 * <p>A notification is {@code origin|id:version:STATE:attempt:runAtMillis;...}. PostgreSQL caps a
 * payload near 8000 bytes, so large batches go out in several.
 */
public final class ChangeNotifier {
    /** The channel every broker listens on. */
    public static final String CHANNEL = "jobwire_changes";
    private static final int MAX_PAYLOAD_CHARS = 7000;

    private final String origin;

    public ChangeNotifier(String origin) {
        if (origin.indexOf('|') >= 0) {
            throw new IllegalArgumentException("broker id must not contain '|': " + origin);
        }
        this.origin = origin;
    }

    public String origin() {
        return origin;
    }

    void notify(Handle handle, List<JobChange> changes) {
        if (changes.isEmpty()) {
            return;
        }
        StringBuilder payload = new StringBuilder(origin).append('|');
        int emptyLength = payload.length();
        for (JobChange change : changes) {
            if (payload.length() > MAX_PAYLOAD_CHARS) {
                send(handle, payload.toString());
                payload.setLength(emptyLength);
            }
            if (payload.length() > emptyLength) {
                payload.append(';');
            }
            payload.append(change.id()).append(':').append(change.version()).append(':')
                    .append(change.state().name()).append(':').append(change.attempt()).append(':')
                    .append(change.runAt() == null ? 0 : change.runAt().toEpochMilli());
        }
        send(handle, payload.toString());
    }

    private static void send(Handle handle, String payload) {
        handle.createQuery("SELECT pg_notify(:channel, :payload)")
                .bind("channel", CHANNEL)
                .bind("payload", payload)
                .mapTo(String.class)
                .one();
    }

    /** A decoded notification. */
    public record Notification(String origin, List<JobChange> changes) {
    }

    /** Decodes a payload made by {@link #notify}; throws IllegalArgumentException if malformed. */
    public static Notification parse(String payload) {
        int bar = payload.indexOf('|');
        if (bar < 0) {
            throw new IllegalArgumentException("no origin in notification: " + payload);
        }
        List<JobChange> changes = new ArrayList<>();
        String body = payload.substring(bar + 1);
        if (!body.isEmpty()) {
            for (String entry : body.split(";")) {
                String[] fields = entry.split(":");
                if (fields.length != 5) {
                    throw new IllegalArgumentException("malformed change entry: " + entry);
                }
                long runAtMillis = Long.parseLong(fields[4]);
                changes.add(new JobChange(Long.parseLong(fields[0]), Long.parseLong(fields[1]),
                        JobStatus.valueOf(fields[2]), Integer.parseInt(fields[3]),
                        runAtMillis == 0 ? null : Instant.ofEpochMilli(runAtMillis), null, null, null));
            }
        }
        return new Notification(payload.substring(0, bar), List.copyOf(changes));
    }
}
