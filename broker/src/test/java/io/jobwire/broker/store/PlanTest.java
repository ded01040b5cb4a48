package io.jobwire.broker.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.broker.db.Database;
import io.jobwire.broker.testing.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The hot statements run on the keyed pool with one cached generic plan each, planned whenever the
 * connection first runs them, possibly against an empty table. Such a plan must still reach live jobs
 * only by key, and the rings only by type or by a row's address: a plan that scans the table (or a whole index of it) would be cached and used on millions of
 * rows. Planned here against an empty, analyzed table, the worst statistics there are.
 */
class PlanTest {
    private static final Pattern NAMED = Pattern.compile("(?<!:):([A-Za-z]\\w*)");
    private static Database db;

    private static String url;

    @BeforeAll
    static void open() {
        url = TestPostgres.newDatabase();
        db = Database.connect(url, 4, Duration.ofSeconds(5), "test");
        db.migrate();
        db.jdbi().useHandle(handle -> handle.execute("ANALYZE live_jobs; ANALYZE job_attempts; ANALYZE job_ready; ANALYZE job_leases; ANALYZE job_history"));
    }

    @AfterAll
    static void close() {
        db.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"claim_jobs", "insert_jobs", "insert_jobs@unfair", "complete_jobs", "fail_jobs", "release_jobs",
            "heartbeat_leases", "report_progress", "reap_leases"})
    void genericPlanReachesJobsOnlyByKey(String statement) throws SQLException {
        List<String> plan;
        try (Connection connection = DriverManager.getConnection(url); Statement sql = connection.createStatement()) {
            sql.execute(Database.KEYED_SESSION);
            plan = explainExecute(sql, statement, Map.of(), "EXPLAIN");
        }
        List<String> scans = new ArrayList<>();
        for (int i = 0; i < plan.size(); i++) {
            String line = plan.get(i);
            if (line.matches(".* on (live_jobs|job_ready|job_leases|job_history)\\w* .*") && line.contains("Scan")) {
                String next = i + 1 < plan.size() ? plan.get(i + 1) : "";
                scans.add(line.strip() + " | " + next.strip());
            }
        }
        assertThat(scans).as(String.join("\n", plan)).allSatisfy(scan -> assertThat(scan)
                .matches(s -> s.contains("using live_jobs_pkey") && s.contains("Index Cond: (id = ")
                        || s.matches(".*Index (Only )?Scan using job_ready_\\d+_type_\\w+ on job_ready_\\d+ .*")
                                && s.contains("Index Cond: ((type = ")
                        || s.matches(".*Tid Scan on job_(ready|leases)_\\d+ .*") && s.contains("TID Cond: (ctid = ANY"),
                        "a primary key lookup, a ready segment's walk by type, or a ring entry by its address"));
        assertThat(String.join("\n", plan)).doesNotContain("Seq Scan").doesNotContain("Bitmap");
        if (!statement.equals("claim_jobs")) { // the claim walks the ready ring per type: a nested loop by design
            assertThat(String.join("\n", plan)).as("a batch meets its rows in a hash or merge join")
                    .doesNotContain("Nested Loop");
        }
    }

    /**
     * Row-by-row retention (the default history partition, and the history migration V8 found) finds old
     * jobs through the BRIN index on finished_at (Housekeeping forbids sequential scans for it): a scan of
     * the whole history, every pass, mostly finding nothing, was what slowed a broker down as its history
     * grew. The delete itself reaches only the partitions that can hold jobs finished before the cutoff.
     */
    @Test
    void retentionReadsHistoryThroughItsBrinIndex() throws SQLException {
        for (String partition : List.of("job_history_default", "job_history_before")) {
            List<String> plan;
            try (Connection connection = DriverManager.getConnection(url); Statement sql = connection.createStatement()) {
                sql.execute(Database.SESSION + "; SET enable_seqscan = off");
                String text = Sql.load(JobStore.class, "prune_finished").replace("{partition}", partition);
                plan = explainText(sql, text, Map.of("cutoff", "now() - interval '7 days'", "limit", "1000"), "EXPLAIN");
            }
            assertThat(String.join("\n", plan)).as(partition)
                    .containsPattern("Bitmap Index Scan on " + partition + "_finished_at")
                    .doesNotContain("Seq Scan");
        }
    }

    /**
     * A reaper batch (up to thousands of lease entries of finished jobs under a drain) deletes its entries
     * by address and meets its jobs by hash or by key, never comparing each entry with every other: the
     * planner takes an unnest for ten rows, and a row-by-row match against the chosen list once cost
     * 0.2-1.4 s a batch of 1,500 on PostgreSQL 15 (about a million comparisons), a core of the server's
     * during a drain. Here 2,000 entries are chosen as the reaper chooses them and settled: all are
     * deleted, and no join in the plan filters out more rows than there are entries.
     */
    @Test
    void aReaperBatchNeverMatchesEveryEntryWithEveryOther() throws SQLException {
        int n = 2_000;
        List<String> plan;
        long left;
        try (Connection connection = DriverManager.getConnection(url); Statement sql = connection.createStatement()) {
            // the plan the broker comes to use: generic, made before the arrays' lengths are known; and
            // the join the planner may pick for ten rows of each (it did on PostgreSQL 15 in the field)
            sql.execute(Database.SESSION + "; SET plan_cache_mode = force_generic_plan; SET enable_hashjoin = off; "
                    + "SET enable_mergejoin = off");
            connection.setAutoCommit(false);
            // every segment holds entries, as under load (the planner then costs a scan of each), and
            // the entries to settle are due in the segment of now
            sql.execute("INSERT INTO job_leases (seg, job_id, attempt, check_at) "
                    + "SELECT s, 2000000 + s * 1000 + i, 1, now() + interval '1 hour' FROM generate_series(0, 15) s, generate_series(1, 500) i");
            sql.execute("INSERT INTO job_leases (seg, job_id, attempt, check_at) "
                    + "SELECT jobwire_segment(), 1000000 + i, 1, now() - interval '1 second' FROM generate_series(1, " + n + ") i");
            sql.execute("ANALYZE job_leases");
            List<String> entries = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            int seg = -1;
            try (ResultSet rows = sql.executeQuery(Sql.load(JobStore.class, "expired_leases").replace(":limit", Integer.toString(n)))) {
                while (rows.next()) {
                    seg = rows.getInt("seg");
                    entries.add('"' + rows.getString("entry") + '"');
                    ids.add(Long.toString(rows.getLong("job_id")));
                }
            }
            assertThat(ids).hasSize(n);
            String ones = String.join(",", java.util.Collections.nCopies(n, "1"));
            plan = explainExecute(sql, "reap_leases", Map.of("seg", Integer.toString(seg),
                    "entries", "'{" + String.join(",", entries) + "}'", "ids", "'{" + String.join(",", ids) + "}'",
                    "attempts", "'{" + ones + "}'", "jitters", "'{" + ones + "}'",
                    "defaultInitialMs", "1000", "defaultMaxMs", "60000"), "EXPLAIN (ANALYZE, TIMING OFF)");
            try (ResultSet rows = sql.executeQuery("SELECT count(*) FROM job_leases WHERE job_id BETWEEN 1000001 AND " + (1_000_000 + n))) {
                rows.next();
                left = rows.getLong(1);
            }
            connection.rollback();
        }
        assertThat(left).as("entries left after the batch").isZero();
        Matcher removed = Pattern.compile("Rows Removed by Join Filter: (\\d+)").matcher(String.join("\n", plan));
        while (removed.find()) {
            assertThat(Long.parseLong(removed.group(1))).as(String.join("\n", plan)).isLessThanOrEqualTo(n);
        }
    }

    /**
     * The keyed pool's settings cost a disabled plan node near 1e10, far above jit_above_cost: on a server
     * built with LLVM (most distribution packages; the embedded one has none) every claim was compiled,
     * 0.3-0.7 s each. The broker's connections must never JIT, whatever the server's default.
     */
    @Test
    void theBrokersConnectionsNeverJitCompile() throws SQLException {
        for (Jdbi pool : List.of(db.jdbi(), db.keyedJdbi())) {
            String jit = pool.withHandle(handle -> handle.createQuery("SHOW jit").mapTo(String.class).one());
            assertThat(jit).isEqualTo("off");
        }
        List<String> plan = db.keyedJdbi().inTransaction(handle -> {
            Statement sql = handle.getConnection().createStatement();
            sql.execute("WITH j AS (INSERT INTO live_jobs (type, owner) VALUES ('jit.probe', 'test') RETURNING *) "
                    + "INSERT INTO job_ready (seg, job_id, type, queue, priority, run_at) "
                    + "SELECT jobwire_segment(), id, type, queue, priority, run_at FROM j");
            List<String> lines = explainExecute(sql, "claim_jobs", Map.of("types", "'{jit.probe}'", "quotas", "'{1}'",
                    "queues", "'{}'", "limit", "1", "workerId", "'w'", "principal", "NULL"), "EXPLAIN (ANALYZE)");
            handle.rollback();
            return lines;
        });
        assertThat(String.join("\n", plan)).contains("actual time").doesNotContain("JIT:");
    }

    /**
     * Prepares a store statement and explains its execution with the given literals (NULL for the rest).
     * The keyed session forces generic plans, so plain EXPLAIN shows the plan the broker caches.
     */
    private static List<String> explainExecute(Statement sql, String statement, Map<String, String> literals,
                                               String explain) throws SQLException {
        // insert_jobs has variants: "insert_jobs" is the one with every line (fair share among them), and
        // "insert_jobs@unfair" the one without fair share
        String text = statement.equals("insert_jobs") ? Sql.without(Sql.load(JobStore.class, statement), "unfair")
                : statement.equals("insert_jobs@unfair") ? Sql.without(Sql.load(JobStore.class, "insert_jobs"), "fair")
                : Sql.load(JobStore.class, statement);
        return explainText(sql, text, literals, explain);
    }

    private static List<String> explainText(Statement sql, String text, Map<String, String> literals,
                                            String explain) throws SQLException {
        List<String> names = new ArrayList<>();
        String prepared = positional(text, names);
        sql.execute("DEALLOCATE ALL");
        sql.execute("PREPARE probe AS " + prepared);
        List<String> values = names.stream().map(name -> literals.getOrDefault(name, "NULL")).toList();
        List<String> plan = new ArrayList<>();
        try (ResultSet rows = sql.executeQuery(explain + " EXECUTE probe(" + String.join(", ", values) + ")")) {
            while (rows.next()) {
                plan.add(rows.getString(1));
            }
        }
        return plan;
    }

    /** Jdbi's :name parameters as $n, in order of first appearance (collected in {@code names}). */
    private static String positional(String sql, List<String> names) {
        Matcher matcher = NAMED.matcher(sql);
        StringBuilder out = new StringBuilder();
        while (matcher.find()) {
            String name = matcher.group(1);
            if (!names.contains(name)) {
                names.add(name);
            }
            matcher.appendReplacement(out, "\\$" + (names.indexOf(name) + 1));
        }
        matcher.appendTail(out);
        return out.toString();
    }
}
