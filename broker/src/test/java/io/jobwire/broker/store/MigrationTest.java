package io.jobwire.broker.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.jobwire.broker.db.Database;
import io.jobwire.broker.store.WorkerWrites.Completion;
import io.jobwire.broker.testing.CountsCheck;
import io.jobwire.broker.testing.TestPostgres;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

/**
 * A database of schema version 6 (one jobs table) holding jobs in every state migrates to the hot path
 * and history of version 7 with nothing lost: each job readable by id as it was, queued jobs claimable,
 * a running job completable under its lease and reaped when it expires, finished jobs in job_history with
 * their keys still refusing a duplicate submit, held jobs held until released.
 */
class MigrationTest {
    @Test
    void aVersion6DatabaseWithJobsInEveryStateMigratesWithNothingLost() {
        String url = TestPostgres.newEmptyDatabase();
        try (Database db = Database.connect(url, 4, Duration.ofSeconds(5), "test")) {
            Flyway.configure().dataSource(url, null, null).locations("classpath:db/migration").target("6").load().migrate();
            UUID token = UUID.randomUUID();
            db.jdbi().useHandle(h -> h.execute("""
                    INSERT INTO jobs (type, owner, state, idempotency_key, attempt, spent_attempts, lease_token,
                                      lease_expires_at, worker_id, started_at, finished_at, result, last_error)
                    VALUES ('m.queued',    'alice', 'QUEUED',    'k-queued', 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                           ('m.running',   'alice', 'RUNNING',   NULL, 1, 1, '%s', now() + interval '1 hour', 'w1', now(), NULL, NULL, NULL),
                           ('m.expired',   'alice', 'RUNNING',   NULL, 1, 1, gen_random_uuid(), now() - interval '1 minute', 'w2', now(), NULL, NULL, NULL),
                           ('m.succeeded', 'alice', 'SUCCEEDED', 'k-done', 1, 1, NULL, NULL, 'w3', now(), now(), '"ok"', NULL),
                           ('m.failed',    'bob',   'FAILED',    NULL, 5, 5, NULL, NULL, 'w4', now(), now(), NULL, 'boom'),
                           ('m.cancelled', 'bob',   'CANCELLED', NULL, 0, 0, NULL, NULL, NULL, NULL, now(), NULL, 'stop'),
                           ('m.held',      'bob',   'HELD',      NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
                    INSERT INTO job_attempts (job_id, attempt, worker_id, finished_at, outcome, error)
                    SELECT id, 1, 'w4', now(), 'failed', 'boom' FROM jobs WHERE type = 'm.failed';
                    """.formatted(token)));
            Map<String, Long> before = db.jdbi().withHandle(h -> h.createQuery("SELECT type, id FROM jobs")
                    .reduceRows(new java.util.HashMap<>(), (map, row) -> {
                        map.put(row.getColumn("type", String.class), row.getColumn("id", Long.class));
                        return map;
                    }));

            db.migrate();

            JobQueries queries = new JobQueries(db.jdbi(), new ObjectMapper());
            JobStore store = new JobStore(db.jdbi(), db.keyedJdbi(), new ObjectMapper(), ChangeSink.NONE,
                    RetryDefaults.STANDARD, () -> 1.0);
            Map<String, JobStatus> expected = Map.of("m.queued", JobStatus.QUEUED, "m.running", JobStatus.RUNNING,
                    "m.expired", JobStatus.RUNNING, "m.succeeded", JobStatus.SUCCEEDED, "m.failed", JobStatus.FAILED,
                    "m.cancelled", JobStatus.CANCELLED, "m.held", JobStatus.HELD);
            expected.forEach((type, state) -> assertThat(queries.get(before.get(type), null))
                    .as(type).get().extracting(JobRecord::state).isEqualTo(state));
            assertThat(queries.get(before.get("m.failed"), null).get().attempts()).extracting(AttemptRecord::outcome)
                    .containsExactly("failed");
            long finished = db.jdbi().withHandle(h -> h.createQuery("SELECT count(*) FROM job_history").mapTo(Long.class).one());
            assertThat(finished).isEqualTo(3);
            assertThat(CountsCheck.assertCountsMatchJobs(db.jdbi())).as("buckets counted by the migration").isEqualTo(7);
            assertThat(queries.queueCounts("m.failed", null, null)).singleElement()
                    .satisfies(counts -> assertThat(counts.failed()).isEqualTo(1))
                    .satisfies(counts -> assertThat(counts.attempts()).isEqualTo(5));

            // Queued: claimable. Held: not, until released.
            assertThat(store.claim(request("m.queued", "m.held"))).extracting(JobRecord::id)
                    .containsExactly(before.get("m.queued"));
            assertThat(store.unhold(before.get("m.held"), null).applied()).isTrue();
            assertThat(store.claim(request("m.held"))).extracting(JobRecord::id).containsExactly(before.get("m.held"));

            // Running: its worker completes it under the lease it had; an expired lease is taken back.
            assertThat(store.complete(null, List.of(new Completion(new LeaseRef(before.get("m.running"), 1, token), "\"late\""))))
                    .extracting(WriteResult::outcome).containsExactly(WriteOutcome.ACCEPTED);
            assertThat(queries.get(before.get("m.running"), null).get().state()).isEqualTo(JobStatus.SUCCEEDED);
            assertThat(store.reapExpired(100, () -> { }).changes()).extracting(JobChange::id)
                    .containsExactly(before.get("m.expired"));
            assertThat(queries.get(before.get("m.expired"), null).get().state()).isEqualTo(JobStatus.QUEUED);

            // Keys of live and finished jobs still refuse a duplicate.
            for (String key : List.of("k-queued", "k-done")) {
                NewJob again = new NewJob("m.again", "default", "{}", 0, null, 0, key, 5, 30_000, Map.of(), null, null, "alice");
                assertThat(store.insert(List.of(again)).get(0).created()).as(key).isFalse();
            }
            // A finished job can be retried: back to the live table, claimable.
            assertThat(store.retry(before.get("m.failed"), null).applied()).isTrue();
            assertThat(store.claim(request("m.failed"))).extracting(JobRecord::id).containsExactly(before.get("m.failed"));
            CountsCheck.assertCountsMatchJobs(db.jdbi());
        }
    }

    private static ClaimRequest request(String... types) {
        return new ClaimRequest("migrated", null, java.util.Arrays.stream(types)
                .map(type -> new ClaimRequest.TypeQuota(type, 10)).toList(), List.of(), 10);
    }
}
