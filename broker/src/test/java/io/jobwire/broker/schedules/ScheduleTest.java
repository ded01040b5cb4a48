package io.jobwire.broker.schedules;

import static io.jobwire.broker.testing.Calls.codeOf;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Duration;
import io.grpc.Status;
import io.jobwire.api.v1.CreateScheduleRequest;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.ListSchedulesRequest;
import io.jobwire.api.v1.MissedFires;
import io.jobwire.api.v1.Schedule;
import io.jobwire.api.v1.ScheduleRef;
import io.jobwire.broker.maintenance.Maintenance;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.TestClock;
import io.jobwire.broker.testing.TestPostgres;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Schedules on an injected clock, fired by the maintenance pass run by hand: one job per fire however many
 * brokers fire at once, cron in a time zone, the missed-fire policies, pause and resume, a fire whose
 * schedule row did not move on, and bad input.
 */
class ScheduleTest {
    private final TestClock clock = new TestClock(Instant.parse("2026-12-01T10:00:00Z"));
    private BrokerFixture one;
    private BrokerFixture two;

    @BeforeEach
    void start() {
        String db = TestPostgres.newDatabase();
        one = BrokerFixture.start(db, c -> c, clock);
        two = BrokerFixture.start(db, c -> c, clock);
    }

    @AfterEach
    void stop() {
        two.close();
        one.close();
    }

    private static CreateScheduleRequest.Builder every(String name, long seconds, String type) {
        return CreateScheduleRequest.newBuilder().setName(name).setEvery(Duration.newBuilder().setSeconds(seconds))
                .setJob(JobSpec.newBuilder().setType(type).setPayload("{\"report\": \"daily\"}").putLabels("from", name));
    }

    private void fireOnBoth() {
        CompletableFuture<Void> a = CompletableFuture.runAsync(() -> one.broker().maintenance().runNow(Maintenance.SCHEDULES));
        CompletableFuture<Void> b = CompletableFuture.runAsync(() -> two.broker().maintenance().runNow(Maintenance.SCHEDULES));
        a.join();
        b.join();
    }

    private List<String> keysOf(String type) {
        return one.jobs().list(ListRequest.newBuilder().setType(type).setOldestFirst(true).setPageSize(1000).build())
                .getJobsList().stream().map(job -> job.getIdempotencyKey()).toList();
    }

    private Schedule schedule(String name) {
        return one.jobs().listSchedules(ListSchedulesRequest.getDefaultInstance()).getSchedulesList().stream()
                .filter(s -> s.getName().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void eachFireMakesOneJobHoweverManyBrokersFireIt() {
        Schedule created = one.jobs().createSchedule(every("tick", 10, "sched.tick").build());
        assertThat(created.getNextFiresList()).extracting(t -> Instant.ofEpochSecond(t.getSeconds()).toString())
                .startsWith("2026-12-01T10:00:10Z", "2026-12-01T10:00:20Z");
        fireOnBoth();
        assertThat(keysOf("sched.tick")).isEmpty(); // nothing due yet
        for (int i = 0; i < 3; i++) {
            clock.advance(java.time.Duration.ofSeconds(10));
            fireOnBoth();
            fireOnBoth();
        }
        assertThat(keysOf("sched.tick")).containsExactly("schedule:tick:2026-12-01T10:00:10Z",
                "schedule:tick:2026-12-01T10:00:20Z", "schedule:tick:2026-12-01T10:00:30Z");
        Schedule after = schedule("tick");
        assertThat(after.getFires()).isEqualTo(3);
        assertThat(Instant.ofEpochSecond(after.getLastFireAt().getSeconds())).isEqualTo(Instant.parse("2026-12-01T10:00:30Z"));
        assertThat(Instant.ofEpochSecond(after.getNextFires(0).getSeconds())).isEqualTo(Instant.parse("2026-12-01T10:00:40Z"));
        assertThat(after.getLastJobId()).isNotEmpty();
        assertThat(one.jobs().get(io.jobwire.api.v1.GetRequest.newBuilder().setId(after.getLastJobId()).build())
                .getLabelsMap()).containsEntry("from", "tick");
    }

    @Test
    void aFireWhoseScheduleDidNotMoveOnIsFoundByItsKeyNotMadeAgain() {
        one.jobs().createSchedule(every("again", 10, "sched.again").build());
        clock.advance(java.time.Duration.ofSeconds(10));
        fireOnBoth();
        assertThat(keysOf("sched.again")).hasSize(1);
        // as if the broker died after its job was committed and before the schedule's row moved on
        one.sql("UPDATE schedules SET next_fire_at = '2026-12-01T10:00:10Z', fires = 0 WHERE name = 'again'");
        fireOnBoth();
        assertThat(keysOf("sched.again")).containsExactly("schedule:again:2026-12-01T10:00:10Z");
        assertThat(schedule("again").getFires()).isEqualTo(1);
    }

    @Test
    void cronFiresInItsTimeZone() {
        Schedule nightly = one.jobs().createSchedule(CreateScheduleRequest.newBuilder().setName("nightly")
                .setCron("0 3 * * *").setZone("Europe/Berlin")
                .setJob(JobSpec.newBuilder().setType("sched.nightly")).build());
        assertThat(nightly.getNextFiresList()).extracting(t -> Instant.ofEpochSecond(t.getSeconds()).toString())
                .startsWith("2026-12-02T02:00:00Z", "2026-12-03T02:00:00Z"); // 03:00 in Berlin, UTC+1 in winter
        Schedule weekdays = one.jobs().createSchedule(CreateScheduleRequest.newBuilder().setName("weekdays")
                .setCron("30 9 * * MON-FRI")
                .setJob(JobSpec.newBuilder().setType("sched.weekdays")).build());
        // 2026-12-01 is a Tuesday; Saturday the 5th and Sunday the 6th are left out
        assertThat(weekdays.getNextFiresList()).extracting(t -> Instant.ofEpochSecond(t.getSeconds()).toString())
                .containsExactly("2026-12-02T09:30:00Z", "2026-12-03T09:30:00Z", "2026-12-04T09:30:00Z",
                        "2026-12-07T09:30:00Z", "2026-12-08T09:30:00Z");
        clock.advance(java.time.Duration.ofHours(16)); // 02:00Z on the 2nd
        fireOnBoth();
        assertThat(keysOf("sched.nightly")).containsExactly("schedule:nightly:2026-12-02T02:00:00Z");
        assertThat(keysOf("sched.weekdays")).isEmpty();
    }

    @Test
    void missedFiresAreSkippedMadeOnceOrAllAsAsked() {
        one.jobs().createSchedule(every("skip", 60, "sched.skip").setMissed(MissedFires.MISSED_FIRES_SKIP).build());
        one.jobs().createSchedule(every("once", 60, "sched.once").build());
        one.jobs().createSchedule(every("all", 60, "sched.all").setMissed(MissedFires.MISSED_FIRES_ALL).build());
        clock.advance(java.time.Duration.ofMinutes(10)); // no broker fired for ten minutes
        fireOnBoth();
        // 10:09 and 10:10 are on time (a minute late at most); 10:01 to 10:08 were missed
        assertThat(keysOf("sched.skip")).containsExactly("schedule:skip:2026-12-01T10:09:00Z", "schedule:skip:2026-12-01T10:10:00Z");
        assertThat(keysOf("sched.once")).containsExactly("schedule:once:2026-12-01T10:08:00Z",
                "schedule:once:2026-12-01T10:09:00Z", "schedule:once:2026-12-01T10:10:00Z");
        assertThat(keysOf("sched.all")).hasSize(10).startsWith("schedule:all:2026-12-01T10:01:00Z");
        assertThat(schedule("skip").getLastError()).contains("8 missed fire(s) left out");
        assertThat(schedule("all").getLastError()).isEmpty();
    }

    @Test
    void aPausedScheduleDoesNotFireAndResumesFromTheNextFireAfterNow() {
        one.jobs().createSchedule(every("paused", 10, "sched.paused").build());
        Schedule paused = one.jobs().pauseSchedule(ScheduleRef.newBuilder().setName("paused").build());
        assertThat(paused.getPaused()).isTrue();
        assertThat(paused.getNextFiresList()).isEmpty();
        clock.advance(java.time.Duration.ofSeconds(35));
        fireOnBoth();
        assertThat(keysOf("sched.paused")).isEmpty();
        Schedule resumed = one.jobs().resumeSchedule(ScheduleRef.newBuilder().setName("paused").build());
        assertThat(Instant.ofEpochSecond(resumed.getNextFires(0).getSeconds())).isEqualTo(Instant.parse("2026-12-01T10:00:40Z"));
        clock.advance(java.time.Duration.ofSeconds(5));
        fireOnBoth();
        assertThat(keysOf("sched.paused")).containsExactly("schedule:paused:2026-12-01T10:00:40Z");
        one.jobs().deleteSchedule(ScheduleRef.newBuilder().setName("paused").build());
        assertThat(codeOf(() -> one.jobs().deleteSchedule(ScheduleRef.newBuilder().setName("paused").build())))
                .isEqualTo(Status.Code.NOT_FOUND);
        assertThat(keysOf("sched.paused")).hasSize(1); // its jobs stay
    }

    @Test
    void badSchedulesAreRefusedWithTheReason() {
        one.jobs().createSchedule(every("taken", 10, "sched.bad").build());
        assertThat(codeOf(() -> one.jobs().createSchedule(every("taken", 10, "sched.bad").build())))
                .isEqualTo(Status.Code.ALREADY_EXISTS);
        for (CreateScheduleRequest bad : List.of(
                every("x", 10, "sched.bad").setCron("0 3 * * *").build(),
                CreateScheduleRequest.newBuilder().setName("x").setJob(JobSpec.newBuilder().setType("sched.bad")).build(),
                every("x", 0, "sched.bad").build(),
                CreateScheduleRequest.newBuilder().setName("x").setCron("61 * * * *").setJob(JobSpec.newBuilder().setType("a")).build(),
                CreateScheduleRequest.newBuilder().setName("x").setCron("0 3 31 2 *").setJob(JobSpec.newBuilder().setType("a")).build(),
                CreateScheduleRequest.newBuilder().setName("x").setCron("0 3 * * *").setZone("Mars/Olympus")
                        .setJob(JobSpec.newBuilder().setType("a")).build(),
                every("x", 10, "sched.bad").setJob(JobSpec.newBuilder().setType("a").setIdempotencyKey("k")).build(),
                every("bad name!", 10, "sched.bad").build(),
                every("x", 10, "sched.bad").setJob(JobSpec.newBuilder().setType("a").setPayload("not json")).build())) {
            assertThat(codeOf(() -> one.jobs().createSchedule(bad))).as(bad.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        }
        assertThat(one.jobs().listSchedules(ListSchedulesRequest.getDefaultInstance()).getSchedulesList())
                .extracting(Schedule::getName).containsExactly("taken");
    }
}
