package io.jobwire.broker.events;

import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobStatus;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The messages brokers send each other on {@link #CHANNEL}. A payload is {@code origin|body}, where the
 * body is one of:
 * <ul>
 *   <li>{@code id:version:STATE:attempt:runAtMillis[:t];...}: jobs that changed ({@code :t}: the attempt
 *       ran past its run timeout);</li>
 *   <li>{@code !0,runAtMillis,...}: queued jobs that no lease holds became due now ({@code 0}) or become
 *       due at those times ({@link Kind#DUE}): all a dispatcher needs, without the jobs;</li>
 *   <li>{@code *}: changes were dropped, re-read everything ({@link Kind#RESYNC});</li>
 *   <li>{@code +}: a broker started listening and wants to hear about changes ({@link Kind#JOINED});</li>
 *   <li>{@code =}: a broker has watchers and wants to hear about every change ({@link Kind#WATCHING}).</li>
 * </ul>
 * PostgreSQL caps a payload near 8000 bytes, so many changes go out in several payloads.
 */
public final class Notifications {
    /** The channel every broker listens on. */
    public static final String CHANNEL = "jobwire_changes";
    private static final int MAX_PAYLOAD_CHARS = 7000;

    private Notifications() {
    }

    /** What a notification says. */
    public enum Kind { CHANGES, DUE, RESYNC, JOINED, WATCHING }

    /**
     * A decoded notification.
     *
     * @param changes  the jobs that changed ({@link Kind#CHANGES})
     * @param dueNow   jobs became due now ({@link Kind#DUE})
     * @param dueLater times at which jobs become due ({@link Kind#DUE})
     */
    public record Notification(String origin, Kind kind, List<JobChange> changes, boolean dueNow,
                               List<Instant> dueLater) {
        Notification(String origin, Kind kind, List<JobChange> changes) {
            this(origin, kind, changes, false, List.of());
        }
    }

    /** Throws if the broker id cannot be an origin. */
    public static String checkOrigin(String origin) {
        if (origin.indexOf('|') >= 0) {
            throw new IllegalArgumentException("broker id must not contain '|': " + origin);
        }
        return origin;
    }

    /** The payloads that carry these changes, each under the size PostgreSQL accepts. */
    public static List<String> changes(String origin, List<JobChange> changes) {
        List<String> entries = new ArrayList<>(changes.size());
        for (JobChange change : changes) {
            entries.add(change.id() + ":" + change.version() + ":" + change.state().name() + ":" + change.attempt()
                    + ":" + (change.runAt() == null ? 0 : change.runAt().toEpochMilli()) + (change.timedOut() ? ":t" : ""));
        }
        return pack(origin + "|", entries, ';');
    }

    /**
     * The payloads that say jobs became due: now, and at each of {@code laterMillis} (epoch milliseconds),
     * each payload under the size PostgreSQL accepts.
     */
    public static List<String> due(String origin, boolean now, java.util.Collection<Long> laterMillis) {
        List<String> entries = new ArrayList<>(laterMillis.size() + 1);
        if (now) {
            entries.add("0");
        }
        laterMillis.forEach(millis -> entries.add(Long.toString(millis)));
        return pack(origin + "|!", entries, ',');
    }

    /** The entries after {@code head}, separated, in as many payloads as the size limit needs; none for none. */
    private static List<String> pack(String head, List<String> entries, char separator) {
        List<String> payloads = new ArrayList<>();
        StringBuilder payload = new StringBuilder(head);
        for (String entry : entries) {
            if (payload.length() > MAX_PAYLOAD_CHARS) {
                payloads.add(payload.toString());
                payload.setLength(head.length());
            }
            if (payload.length() > head.length()) {
                payload.append(separator);
            }
            payload.append(entry);
        }
        if (payload.length() > head.length()) {
            payloads.add(payload.toString());
        }
        return payloads;
    }

    public static String watching(String origin) {
        return origin + "|=";
    }

    public static String resync(String origin) {
        return origin + "|*";
    }

    public static String joined(String origin) {
        return origin + "|+";
    }

    /** Decodes a payload; throws IllegalArgumentException if it is malformed. */
    public static Notification parse(String payload) {
        int bar = payload.indexOf('|');
        if (bar < 0) {
            throw new IllegalArgumentException("no origin in notification: " + payload);
        }
        String origin = payload.substring(0, bar);
        String body = payload.substring(bar + 1);
        if (body.equals("*")) {
            return new Notification(origin, Kind.RESYNC, List.of());
        }
        if (body.equals("+")) {
            return new Notification(origin, Kind.JOINED, List.of());
        }
        if (body.equals("=")) {
            return new Notification(origin, Kind.WATCHING, List.of());
        }
        if (body.startsWith("!")) {
            boolean now = false;
            List<Instant> later = new ArrayList<>();
            for (String field : body.substring(1).split(",")) {
                long millis = Long.parseLong(field);
                if (millis == 0) {
                    now = true;
                } else {
                    later.add(Instant.ofEpochMilli(millis));
                }
            }
            return new Notification(origin, Kind.DUE, List.of(), now, List.copyOf(later));
        }
        List<JobChange> changes = new ArrayList<>();
        if (!body.isEmpty()) {
            for (String entry : body.split(";")) {
                String[] fields = entry.split(":");
                if (fields.length != 5 && !(fields.length == 6 && fields[5].equals("t"))) {
                    throw new IllegalArgumentException("malformed change entry: " + entry);
                }
                long runAtMillis = Long.parseLong(fields[4]);
                changes.add(new JobChange(Long.parseLong(fields[0]), Long.parseLong(fields[1]),
                        JobStatus.valueOf(fields[2]), Integer.parseInt(fields[3]),
                        runAtMillis == 0 ? null : Instant.ofEpochMilli(runAtMillis), null, null, null, false,
                        fields.length == 6, null, null));
            }
        }
        return new Notification(origin, Kind.CHANGES, List.copyOf(changes));
    }
}
