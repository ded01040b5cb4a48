package io.jobwire.broker.cli;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.broker.cli.ClientCommandsTest.Run;
import io.jobwire.broker.testing.BrokerFixture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code cancel|retry|hold|release --filter [--dry-run]}, {@code jobwire schedules}, {@code pause|resume|paused}. */
class FlowCommandsTest {
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    private static Run jobwire(String... args) {
        return ClientCommandsTest.jobwire(fixture, args);
    }

    private static JobState state(String id) {
        return fixture.jobs().get(io.jobwire.api.v1.GetRequest.newBuilder().setId(id).build()).getState();
    }

    @Test
    void aFilterCountsFirstThenActsOnEveryMatchingJob() {
        List<String> gold = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            gold.add(fixture.submit(JobSpec.newBuilder().setType("cli.bulk").setPayload("{}").putLabels("tier", "gold").build()));
        }
        String silver = fixture.submit(JobSpec.newBuilder().setType("cli.bulk").setPayload("{}").putLabels("tier", "silver").build());

        Run dry = jobwire("hold", "--filter", "--type", "cli.bulk", "--label", "tier=gold", "--dry-run");
        assertThat(dry.exit()).as(dry.err()).isZero();
        assertThat(dry.out()).isEqualTo("3 jobs match; nothing changed (--dry-run)\n");
        assertThat(gold).allSatisfy(id -> assertThat(state(id)).isEqualTo(JobState.JOB_STATE_QUEUED));

        Run held = jobwire("hold", "--filter", "--type", "cli.bulk", "--label", "tier=gold");
        assertThat(held.out()).isEqualTo("held 3 jobs\n");
        assertThat(gold).allSatisfy(id -> assertThat(state(id)).isEqualTo(JobState.JOB_STATE_HELD));
        assertThat(state(silver)).isEqualTo(JobState.JOB_STATE_QUEUED);

        Run cancelled = jobwire("cancel", "--filter", "--type", "cli.bulk", "--state", "held", "--reason", "campaign over");
        assertThat(cancelled.out()).isEqualTo("cancelled 3 jobs\n");
        Run retried = jobwire("retry", "--filter", "--type", "cli.bulk", "--state", "cancelled", "--limit", "2");
        assertThat(retried.out()).isEqualTo("queued again 2 jobs\n");

        Run both = jobwire("cancel", gold.get(0), "--filter", "--type", "cli.bulk");
        assertThat(both.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(both.err().strip()).isEqualTo("jobwire cancel: --filter acts on the jobs it matches: give no id");
        Run neither = jobwire("release");
        assertThat(neither.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(neither.err().strip()).isEqualTo("jobwire release: give a job id, or --filter with --state/--type/--queue/--label");
    }

    @Test
    void schedulesAreCreatedListedPausedResumedAndDeleted() {
        Run created = jobwire("schedules", "create", "--name", "digest", "--cron", "0 7 * * MON-FRI", "--zone", "Europe/Berlin",
                "--type", "cli.digest", "--payload", "{\"to\": \"team\"}");
        assertThat(created.exit()).as(created.err()).isZero();
        assertThat(created.out()).startsWith("schedule digest (0 7 * * MON-FRI Europe/Berlin, cli.digest) created\nnext fires: ");
        Run every = jobwire("schedules", "create", "--name", "tick", "--every", "30s", "--type", "cli.tick");
        assertThat(every.out()).startsWith("schedule tick (every 30s, cli.tick) created");

        Run listed = jobwire("schedules");
        assertThat(listed.out()).contains("digest").contains("0 7 * * MON-FRI Europe/Berlin").contains("tick").contains("every 30s");
        assertThat(jobwire("schedules", "pause", "tick").out()).isEqualTo("schedule tick (every 30s, cli.tick) paused\n");
        assertThat(jobwire("schedules").out()).containsPattern("tick .*paused");
        assertThat(jobwire("schedules", "resume", "tick").out()).startsWith("schedule tick (every 30s, cli.tick) resumed\nnext fires: ");
        assertThat(jobwire("schedules", "delete", "tick").exit()).isZero();
        assertThat(jobwire("schedules").out()).doesNotContain("tick");

        Run badCron = jobwire("schedules", "create", "--name", "bad", "--cron", "0 25 * * *", "--type", "cli.bad");
        assertThat(badCron.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(badCron.err().strip()).startsWith("jobwire schedules create: INVALID_ARGUMENT: cron: ").doesNotContain("\n");
        Run bothWhens = jobwire("schedules", "create", "--name", "bad", "--cron", "0 3 * * *", "--every", "1m", "--type", "x");
        assertThat(bothWhens.exit()).isEqualTo(ExitCodes.USAGE);
        Run unknown = jobwire("schedules", "pause", "nope");
        assertThat(unknown.err().strip()).isEqualTo("jobwire schedules pause: NOT_FOUND: no schedule named nope");
    }

    @Test
    void queuesAndTypesArePausedListedAndResumed() {
        String id = fixture.submit(JobSpec.newBuilder().setType("cli.paused").setQueue("cli-q").build());
        Run paused = jobwire("pause", "--queue", "cli-q", "--reason", "supplier down");
        assertThat(paused.exit()).as(paused.err()).isZero();
        assertThat(paused.out()).matches("queue cli-q paused since \\S+Z by \\S+: supplier down\n");
        assertThat(jobwire("pause", "--type", "cli.paused").out()).startsWith("type cli.paused paused since ");

        Run listed = jobwire("paused");
        assertThat(listed.out().lines().toList()).hasSize(3);
        assertThat(listed.out().lines().skip(1).toList()).satisfiesExactly(
                line -> assertThat(line).startsWith("cli-q").endsWith("supplier down"),
                line -> assertThat(line).startsWith("-").contains("cli.paused"));
        assertThat(jobwire("paused", "--json").out()).contains("\"queue\":\"cli-q\"").contains("\"type\":\"cli.paused\"");

        assertThat(jobwire("resume", "--queue", "cli-q").out()).isEqualTo("queue cli-q resumed\n");
        assertThat(jobwire("resume", "--queue", "cli-q").out()).isEqualTo("queue cli-q was not paused\n");
        assertThat(jobwire("resume", "--type", "cli.paused").out()).isEqualTo("type cli.paused resumed\n");
        assertThat(state(id)).isEqualTo(JobState.JOB_STATE_QUEUED);

        Run both = jobwire("pause", "--queue", "a", "--type", "b");
        assertThat(both.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(both.err().lines().findFirst().orElse("")).contains("mutually exclusive");
        Run bad = jobwire("pause", "--queue", "no spaces");
        assertThat(bad.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(bad.err().lines().toList()).hasSize(1);
        assertThat(bad.err()).contains("INVALID_ARGUMENT").contains("queue");
        assertThat(jobwire("paused").out().lines().toList()).hasSize(1); // the header: nothing paused
    }

    @Test
    void submitTakesARunTimeoutAndAConcurrencyKey() throws Exception {
        Run first = jobwire("submit", "--type", "cli.keyed", "--concurrency-key", "export:customer-1", "--run-timeout", "90s");
        assertThat(first.exit()).as(first.err()).isZero();
        com.fasterxml.jackson.databind.JsonNode job = first.json();
        assertThat(job.get("concurrencyKey").asText()).isEqualTo("export:customer-1");
        assertThat(job.get("concurrencyLimit").asInt()).isEqualTo(1);
        assertThat(job.get("concurrencyStrategy").asText()).isEqualTo("CONCURRENCY_STRATEGY_QUEUE");
        assertThat(job.get("runTimeout").asText()).isEqualTo("90s");

        Run newest = jobwire("submit", "--type", "cli.keyed", "--concurrency-key", "export:customer-1",
                "--concurrency-strategy", "cancel-newest", "-q");
        String id = newest.out().strip();
        org.awaitility.Awaitility.await().atMost(io.jobwire.broker.testing.Slowness.scaled(java.time.Duration.ofSeconds(10)))
                .until(() -> state(id) == JobState.JOB_STATE_CANCELLED);

        Run bad = jobwire("submit", "--type", "cli.keyed", "--concurrency-key", "k", "--concurrency-strategy", "latest");
        assertThat(bad.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(bad.err().lines().findFirst().orElse("")).contains("queue, cancel-newest or cancel-in-progress, got latest");
        Run noKey = jobwire("submit", "--type", "cli.keyed", "--concurrency-limit", "3");
        assertThat(noKey.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(noKey.err().strip()).isEqualTo("jobwire submit: INVALID_ARGUMENT: job.concurrency_key: is required with "
                + "concurrency_limit or concurrency_strategy");
    }

    @Test
    void rateLimitsAreSetListedAndDeletedAndSubmitTakesARateKey() throws Exception {
        Run set = jobwire("rate-limit", "set", "--key", "cli-api", "--per-second", "0.5");
        assertThat(set.exit()).as(set.err()).isZero();
        assertThat(set.out()).isEqualTo("rate key cli-api: 0.5 starts per second, bursts of 1\n");
        assertThat(jobwire("rate-limit", "set", "--key", "cli-api", "--per-second", "2", "--burst", "3").out())
                .isEqualTo("rate key cli-api: 2 starts per second, bursts of 3\n");

        Run first = jobwire("submit", "--type", "cli.rated", "--rate-key", "cli-api");
        assertThat(first.exit()).as(first.err()).isZero();
        assertThat(first.json().get("rateKey").asText()).isEqualTo("cli-api");

        // the job waits for the rate's next admission pass (it has a token): then none waits
        Run listed = await("the job let through").atMost(scaled(Duration.ofSeconds(30))).until(() -> jobwire("rate-limit"),
                run -> run.out().lines().count() == 2 && run.out().lines().toList().get(1).matches("cli-api +2 +3 +\\S+ +0 +\\S+"));
        assertThat(listed.exit()).as(listed.err()).isZero();
        assertThat(listed.out().lines().toList().get(0)).startsWith("KEY").contains("PER SECOND").contains("WAITING");
        assertThat(jobwire("rate-limit", "--json").out()).contains("\"key\":\"cli-api\"").contains("\"burst\":3");

        Run bad = jobwire("rate-limit", "set", "--key", "cli-api", "--per-second", "0");
        assertThat(bad.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(bad.err().strip()).isEqualTo("jobwire rate-limit set: INVALID_ARGUMENT: per_second: must be more than 0 "
                + "and at most 100000, got 0.0");
        Run unknown = jobwire("submit", "--type", "cli.rated", "--rate-key", "cli-nope");
        assertThat(unknown.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(unknown.err().strip()).isEqualTo("jobwire submit: FAILED_PRECONDITION: job.rate_key: cli-nope has no rate "
                + "limit; set one first (jobwire rate-limit set --key cli-nope --per-second N)");

        assertThat(jobwire("rate-limit", "delete", "--key", "cli-api").out())
                .isEqualTo("deleted the limit of rate key cli-api: 2 starts per second, bursts of 3\n");
        Run gone = jobwire("rate-limit", "delete", "--key", "cli-api");
        assertThat(gone.err().strip()).isEqualTo("jobwire rate-limit delete: NOT_FOUND: rate key cli-api has no limit");
        assertThat(jobwire("rate-limit").out().lines().toList()).hasSize(1);
    }

    @Test
    void aTypeIsRegisteredWithFairShareAndItsWeights() {
        assertThat(jobwire("types", "register", "--type", "cli.fair", "--fair", "--weight", "vip=3", "--weight", "big=2").out())
                .isEqualTo("registered cli.fair (version 1)\n");
        assertThat(jobwire("types", "show", "cli.fair").out()).contains("  fair share      owners take turns; weights big=2, vip=3\n");
        assertThat(fixture.client().jobType("cli.fair").getRegistration().getFairShare().getWeightsMap())
                .isEqualTo(java.util.Map.of("vip", 3, "big", 2));

        Run alone = jobwire("types", "register", "--type", "cli.unfair", "--weight", "vip=3");
        assertThat(alone.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(alone.err().lines().toList()).hasSize(1);
        assertThat(alone.err()).contains("--weight goes with --fair");
        Run heavy = jobwire("types", "register", "--type", "cli.fair", "--fair", "--weight", "vip=5000");
        assertThat(heavy.exit()).isEqualTo(ExitCodes.BROKER_ERROR);
        assertThat(heavy.err().strip()).isEqualTo("jobwire types register: INVALID_ARGUMENT: registration.fair_share.weights[vip]: "
                + "must be between 1 and 1000, got 5000");
    }
}
