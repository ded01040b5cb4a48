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
import java.util.Properties;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The hot statements run on the keyed pool with one cached generic plan each, planned whenever the
 * connection first runs them, possibly against an empty table. Such a plan must still reach jobs only
 * by key: a plan that scans the table (or a whole index of it) would be cached and used on millions of
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
        db.jdbi().useHandle(handle -> handle.execute("ANALYZE jobs; ANALYZE job_attempts"));
    }

    @AfterAll
    static void close() {
        db.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"claim_jobs", "insert_jobs", "complete_jobs", "fail_jobs", "release_jobs",
            "heartbeat_leases", "report_progress"})
    void genericPlanReachesJobsOnlyByKey(String statement) throws SQLException {
        List<String> plan = new ArrayList<>();
        Properties simple = new Properties(); // EXPLAIN (GENERIC_PLAN) takes $n unbound: no extended protocol
        simple.setProperty("preferQueryMode", "simple");
        try (Connection connection = DriverManager.getConnection(url, simple);
             Statement sql = connection.createStatement()) {
            sql.execute(Database.KEYED_SESSION);
            try (ResultSet rows = sql.executeQuery("EXPLAIN (GENERIC_PLAN) "
                    + positional(Sql.load(JobStore.class, statement)))) {
                while (rows.next()) {
                    plan.add(rows.getString(1));
                }
            }
        }
        List<String> scans = new ArrayList<>();
        for (int i = 0; i < plan.size(); i++) {
            String line = plan.get(i);
            if (line.contains(" on jobs ") && line.contains("Scan")) {
                String next = i + 1 < plan.size() ? plan.get(i + 1) : "";
                scans.add(line.strip() + " | " + next.strip());
            }
        }
        assertThat(scans).as(String.join("\n", plan)).allSatisfy(scan -> assertThat(scan)
                .matches(s -> s.contains("using jobs_pkey") && s.contains("Index Cond: (id = ")
                        || s.contains("using jobs_claimable") && s.contains("Index Cond: ((type = "),
                        "a primary key lookup or a claimable-index walk by type"));
        assertThat(String.join("\n", plan)).doesNotContain("Seq Scan on jobs").doesNotContain("Bitmap");
        if (!statement.equals("claim_jobs")) { // the claim walks jobs_claimable per type: a nested loop by design
            assertThat(String.join("\n", plan)).as("a batch meets its rows in a hash or merge join")
                    .doesNotContain("Nested Loop");
        }
    }

    /** Jdbi's :name parameters as $n, which EXPLAIN (GENERIC_PLAN) leaves unbound. */
    private static String positional(String sql) {
        List<String> names = new ArrayList<>();
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
