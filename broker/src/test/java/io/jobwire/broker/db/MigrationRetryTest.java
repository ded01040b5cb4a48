package io.jobwire.broker.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jobwire.broker.testing.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A migration that PostgreSQL ends for a deadlock or a lock timeout (another session's locks met its own)
 * is tried again; any other failure ends the start. The failures come from an event trigger on the
 * migrations' DDL, which raises with the chosen SQL state for the first statements it sees (a sequence
 * counts them, and a rollback does not give a sequence's numbers back); Flyway's own history table is left
 * alone, as Flyway retries making it by itself.
 */
class MigrationRetryTest {

    @Test
    void aMigrationEndedByADeadlockOrALockTimeoutIsTriedAgain() throws Exception {
        String url = TestPostgres.newEmptyDatabase();
        failDdl(url, "CASE n WHEN 1 THEN '40P01' WHEN 2 THEN '55P03' END");
        try (Database db = Database.connect(url, 4, Duration.ofSeconds(5), "test")) {
            db.migrate();
        }
        assertThat(query(url, "SELECT last_value FROM test_hooks.ddl_seen")).as("DDL statements seen, the two refused among them")
                .isGreaterThan(2);
        assertThat(query(url, "SELECT count(*) FROM flyway_schema_history WHERE NOT success")).isZero();
        assertThat(query(url, "SELECT count(*) FROM flyway_schema_history WHERE version IS NOT NULL"))
                .as("every migration applied").isEqualTo(migrationFiles());
        assertThat(query(url, "SELECT count(*) FROM pg_class WHERE relname = 'live_jobs'")).isEqualTo(1);
    }

    @Test
    void anyOtherFailureEndsTheMigrationAtOnce() throws Exception {
        String url = TestPostgres.newEmptyDatabase();
        failDdl(url, "'XX000'");
        try (Database db = Database.connect(url, 4, Duration.ofSeconds(5), "test")) {
            assertThatThrownBy(db::migrate).hasStackTraceContaining("refused by the test");
        }
        assertThat(query(url, "SELECT last_value FROM test_hooks.ddl_seen")).as("one attempt, ended at its first DDL").isEqualTo(1);
    }

    /** Every DDL statement raises with the SQL state {@code stateOfN} gives for its number n (null: none). */
    private static void failDdl(String url, String stateOfN) throws SQLException {
        try (Connection connection = DriverManager.getConnection(url); Statement statement = connection.createStatement()) {
            // in a schema of their own: Flyway migrates only an empty public schema
            statement.execute("CREATE SCHEMA test_hooks");
            statement.execute("CREATE SEQUENCE test_hooks.ddl_seen");
            statement.execute("""
                    CREATE FUNCTION test_hooks.refuse_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
                    DECLARE n bigint; state text;
                    BEGIN
                        IF current_query() LIKE '%%flyway_schema_history%%' THEN
                            RETURN; -- Flyway's own table, which Flyway retries itself
                        END IF;
                        n := nextval('test_hooks.ddl_seen');
                        state := %s;
                        IF state IS NOT NULL THEN
                            RAISE EXCEPTION 'DDL %% refused by the test', n USING ERRCODE = state;
                        END IF;
                    END $$""".formatted(stateOfN));
            statement.execute("CREATE EVENT TRIGGER refuse_ddl ON ddl_command_start EXECUTE FUNCTION test_hooks.refuse_ddl()");
        }
    }

    private static long query(String url, String sql) throws SQLException {
        try (Connection connection = DriverManager.getConnection(url); Statement statement = connection.createStatement();
             ResultSet rs = statement.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static long migrationFiles() throws Exception {
        try (var files = java.nio.file.Files.list(java.nio.file.Path.of(
                MigrationRetryTest.class.getClassLoader().getResource("db/migration").toURI()))) {
            return files.filter(path -> path.getFileName().toString().matches("V\\d+__.*\\.sql")).count();
        }
    }
}
