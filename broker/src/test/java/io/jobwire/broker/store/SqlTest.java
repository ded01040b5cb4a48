package io.jobwire.broker.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SqlTest {
    @Test
    void loadingDropsWholeLineCommentsAndIncludesTheLeaseFence() {
        String complete = Sql.load(JobStore.class, "complete_jobs");

        assertThat(complete).doesNotContain("-- @lease-fence").contains("j.lease_token = i.token");
        assertThat(complete.lines()).noneMatch(line -> line.stripLeading().startsWith("--"));
    }

    @Test
    void aTaggedLineIsDroppedForTheOtherVariant() {
        String keyed = Sql.load(JobStore.class, "insert_jobs");
        String unkeyed = Sql.without(keyed, "keyed");

        assertThat(keyed).contains("ON CONFLICT (owner, idempotency_key)");
        assertThat(unkeyed).doesNotContain("ON CONFLICT (owner, idempotency_key)").doesNotContain("job_keys")
                .contains("INSERT INTO live_jobs").contains("RETURNING *");
        assertThat(unkeyed.lines().count()).isEqualTo(keyed.lines().count() - 6);
    }

    @Test
    void aTagNoLineCarriesIsAMistake() {
        assertThatThrownBy(() -> Sql.without("SELECT 1", "keyed"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("-- @keyed");
    }

    @Test
    void theChangeRowIsWrittenOnceAndSpelledOutWithOrWithoutItsAlias() {
        String fail = Sql.load(JobStore.class, "fail_jobs");
        assertThat(fail).doesNotContain("@change_row")
                .contains("RETURNING j.id, j.version, j.state, j.attempt, j.run_at, j.type, j.queue, j.owner, "
                        + "j.lease_expires_at, j.concurrency_key, j.rate_key,")
                .contains("SELECT id, version, state, attempt, run_at, type, queue, owner, lease_expires_at, concurrency_key, "
                        + "rate_key FROM moved");
        assertThat(Sql.load(JobStore.class, "heartbeat_leases")).endsWith("j.owner, j.lease_expires_at, j.concurrency_key, j.rate_key");
    }

    @Test
    void anIncludeWithRowsNamesTheCteItWorksOn() {
        String release = Sql.load(JobStore.class, "release_jobs");
        assertThat(release).doesNotContain("{rows}").doesNotContain("@include")
                .contains("ready AS (\n    INSERT INTO job_ready").contains("FROM changed\n    WHERE key_admitted IS NOT FALSE")
                .contains("INSERT INTO key_waiting").contains("INSERT INTO rate_waiting");
    }
}
