package io.jobwire.broker.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.transaction.TransactionIsolationLevel;

/**
 * The counts kept by the triggers of migration V8 (job_counts plus the deltas not rolled up yet) against
 * the jobs themselves, counted the slow way, in one snapshot: every (owner, type, queue, state, bucket)
 * with its jobs, attempts and errors.
 */
public final class CountsCheck {
    private static final String KEPT = """
            SELECT owner || '/' || type || '/' || queue || '/' || state || '/' || bucket
                   || ': ' || sum(jobs) || ' jobs, ' || sum(attempts) || ' attempts, ' || sum(errors) || ' errors'
            FROM (SELECT owner, type, queue, state, bucket, jobs, attempts, errors FROM job_counts
                  UNION ALL
                  SELECT owner, type, queue, state, bucket, jobs, attempts, errors FROM job_count_deltas) c
            GROUP BY owner, type, queue, state, bucket
            HAVING sum(jobs) <> 0 OR sum(attempts) <> 0 OR sum(errors) <> 0
            ORDER BY 1
            """;
    private static final String COUNTED = """
            SELECT owner || '/' || type || '/' || queue || '/' || state || '/' || jobwire_bucket(state, run_at, finished_at)
                   || ': ' || count(*) || ' jobs, ' || sum(attempt) || ' attempts, ' || sum(errors) || ' errors'
            FROM jobs
            GROUP BY owner, type, queue, state, jobwire_bucket(state, run_at, finished_at)
            ORDER BY 1
            """;

    private CountsCheck() {
    }

    /** Asserts the kept counts are those of the jobs; returns how many buckets there are. */
    public static int assertCountsMatchJobs(Jdbi jdbi) {
        List<List<String>> both = jdbi.inTransaction(TransactionIsolationLevel.REPEATABLE_READ, handle -> {
            // Before the snapshot (a LOCK takes none): the ring empties a delta segment with TRUNCATE, which
            // is not MVCC-safe, so a snapshot taken before a roll-up and a TRUNCATE that follow it would read
            // the segment empty and job_counts without what was rolled up (seen on a busy machine).
            handle.execute("LOCK TABLE job_counts, job_count_deltas IN ACCESS SHARE MODE");
            return List.of(handle.createQuery(KEPT).mapTo(String.class).list(),
                    handle.createQuery(COUNTED).mapTo(String.class).list());
        });
        assertThat(both.get(0)).as("counts kept as jobs changed").isEqualTo(both.get(1));
        return both.get(1).size();
    }
}
