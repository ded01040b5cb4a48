package io.jobwire.broker.schedules;

import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * When a schedule fires: a cron expression of five fields (crontab(5), parsed by cron-utils) in a time
 * zone, or a fixed interval counted from an anchor (the schedule's creation). Pure: the caller gives now.
 */
public final class ScheduleTimes {
    /** A fire this late or less is on time; an older one was missed (no broker ran), see {@link Missed}. */
    public static final Duration GRACE = Duration.ofMinutes(1);
    /** At most this many missed fires are made, the latest ones ({@link Missed#ALL}). */
    public static final int MAX_MISSED = 100;
    private static final CronParser UNIX = new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));
    private static final int MAX_STEPS = 1_000_000;

    /** What to do with the fires that fell while no broker ran. */
    public enum Missed { SKIP, ONCE, ALL }

    private final ExecutionTime cron;
    private final ZoneId zone;
    private final Duration every;
    private final Instant anchor;

    private ScheduleTimes(ExecutionTime cron, ZoneId zone, Duration every, Instant anchor) {
        this.cron = cron;
        this.zone = zone;
        this.every = every;
        this.anchor = anchor;
    }

    /** A cron schedule; IllegalArgumentException with a readable reason for a bad expression or zone. */
    public static ScheduleTimes cron(String expression, String zone) {
        ZoneId zoneId;
        try {
            zoneId = zone == null || zone.isEmpty() ? ZoneOffset.UTC : ZoneId.of(zone);
        } catch (DateTimeException e) {
            throw new IllegalArgumentException("zone: not a time zone: " + zone + " (e.g. Europe/Berlin, UTC)");
        }
        ExecutionTime times;
        try {
            times = ExecutionTime.forCron(UNIX.parse(expression.strip()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("cron: " + e.getMessage() + " (five fields: minute hour day-of-month "
                    + "month day-of-week, e.g. \"0 3 * * *\")");
        }
        ScheduleTimes schedule = new ScheduleTimes(times, zoneId, null, null);
        if (schedule.after(Instant.EPOCH.plus(Duration.ofDays(365 * 30))) == null) {
            throw new IllegalArgumentException("cron: \"" + expression + "\" never fires");
        }
        return schedule;
    }

    /** Every {@code every} from {@code anchor} on (the first fire one interval after it). */
    public static ScheduleTimes every(Duration every, Instant anchor) {
        if (every.compareTo(Duration.ofSeconds(1)) < 0) {
            throw new IllegalArgumentException("every: at least 1s, got " + every);
        }
        return new ScheduleTimes(null, null, every, anchor);
    }

    /** The first fire strictly after {@code t}, or null if there is none. */
    public Instant after(Instant t) {
        if (every != null) {
            long intervals = Math.floorDiv(Duration.between(anchor, t).toMillis(), every.toMillis()) + 1;
            return anchor.plus(every.multipliedBy(Math.max(1, intervals)));
        }
        return cron.nextExecution(ZonedDateTime.ofInstant(t, zone)).map(ZonedDateTime::toInstant).orElse(null);
    }

    /** The next {@code n} fires after {@code t}. */
    public List<Instant> next(Instant t, int n) {
        List<Instant> fires = new ArrayList<>(n);
        Instant at = t;
        while (fires.size() < n && (at = after(at)) != null) {
            fires.add(at);
        }
        return fires;
    }

    /** The fires to make now, oldest first, and the first fire after now. */
    public record Plan(List<Instant> fires, int missedLeftOut, Instant next) {
    }

    /**
     * What is due at {@code now} for a schedule whose next fire was {@code due}: the fires on time (at most
     * {@link #GRACE} late), and of the missed ones what {@code missed} says.
     */
    public Plan plan(Instant due, Instant now, Missed missed) {
        List<Instant> onTime = new ArrayList<>();
        Deque<Instant> late = new ArrayDeque<>();
        int lateCount = 0;
        Instant fire = due;
        Instant skipTo = null;
        for (int steps = 0; fire != null && !fire.isAfter(now); steps++) {
            if (steps == MAX_STEPS) {
                skipTo = now; // a fixed interval missed for very long: the rest is left out
                break;
            }
            if (Duration.between(fire, now).compareTo(GRACE) <= 0) {
                onTime.add(fire);
            } else {
                lateCount++;
                late.addLast(fire);
                if (late.size() > MAX_MISSED) {
                    late.removeFirst();
                }
            }
            fire = after(fire);
        }
        List<Instant> fires = new ArrayList<>();
        int madeOfLate = switch (missed) {
            case SKIP -> 0;
            case ONCE -> Math.min(1, late.size());
            case ALL -> late.size();
        };
        List<Instant> lateList = new ArrayList<>(late);
        fires.addAll(lateList.subList(lateList.size() - madeOfLate, lateList.size()));
        fires.addAll(onTime);
        Instant next = skipTo != null ? after(skipTo) : fire;
        return new Plan(fires, lateCount - madeOfLate, next);
    }
}
