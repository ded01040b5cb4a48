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
 *   <li>{@code id:version:STATE:attempt:runAtMillis;...}: jobs that changed;</li>
 *   <li>{@code *}: changes were dropped, re-read everything ({@link Kind#RESYNC});</li>
 *   <li>{@code +}: a broker started listening and wants to hear about changes ({@link Kind#JOINED}).</li>
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
    public enum Kind { CHANGES, RESYNC, JOINED }

    /** A decoded notification. */
    public record Notification(String origin, Kind kind, List<JobChange> changes) {
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
        List<String> payloads = new ArrayList<>();
        StringBuilder payload = new StringBuilder(origin).append('|');
        int emptyLength = payload.length();
        for (JobChange change : changes) {
            if (payload.length() > MAX_PAYLOAD_CHARS) {
                payloads.add(payload.toString());
                payload.setLength(emptyLength);
            }
            if (payload.length() > emptyLength) {
                payload.append(';');
            }
            payload.append(change.id()).append(':').append(change.version()).append(':')
                    .append(change.state().name()).append(':').append(change.attempt()).append(':')
                    .append(change.runAt() == null ? 0 : change.runAt().toEpochMilli());
        }
        if (payload.length() > emptyLength) {
            payloads.add(payload.toString());
        }
        return payloads;
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
        List<JobChange> changes = new ArrayList<>();
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
        return new Notification(origin, Kind.CHANGES, List.copyOf(changes));
    }
}
