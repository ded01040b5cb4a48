package io.jobwire.broker.store;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import io.jobwire.broker.db.Database;
import io.jobwire.broker.testing.LogCapture;
import io.jobwire.broker.testing.TestClock;
import io.jobwire.broker.testing.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** The watch for a transaction that holds back vacuum, against a real one held open on a real PostgreSQL. */
class HorizonWatchTest {
    private static final String WATCHER_ROLE = "jobwire_horizon_watcher";

    private String url;
    private Database db;
    private final ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(HorizonWatch.class);

    @BeforeEach
    void open() {
        url = TestPostgres.newDatabase();
        db = Database.connect(url, 2, Duration.ofSeconds(5), "test");
        logger.setLevel(Level.INFO);
    }

    @AfterEach
    void close() {
        logger.setLevel(null);
        db.close();
    }

    /** A session that opens a snapshot and sits idle in its transaction, as a forgotten BEGIN in psql does. */
    private static Connection pin(String url, String application) throws SQLException {
        Connection pin = DriverManager.getConnection(url);
        try (Statement statement = pin.createStatement()) {
            statement.execute("SET application_name = '" + application + "'");
        }
        pin.setAutoCommit(false);
        pin.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        try (Statement statement = pin.createStatement()) {
            statement.executeQuery("SELECT 1").close();
        }
        return pin;
    }

    private static int pid(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet rs = statement.executeQuery("SELECT pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    @Test
    void aTransactionLeftOpenIsNamedWithItsAgeWarnedOfOnceAndItsEndIsNoted() throws Exception {
        HorizonWatch watch = new HorizonWatch(db.jdbi(), Clock.systemUTC(), Duration.ofSeconds(1));
        assertThat(watch.check()).as("nothing open yet").isEmpty();
        assertThat(watch.oldestSeconds()).isZero();

        try (LogCapture logs = new LogCapture(); Connection pin = pin(url, "nightly-report")) {
            int pid = pid(pin);
            HorizonWatch.Holder holder = await().atMost(scaled(Duration.ofSeconds(30)))
                    .until(() -> watch.check().orElseThrow(), h -> h.age().compareTo(Duration.ofSeconds(1)) >= 0);
            assertThat(holder.kind()).isEqualTo("session");
            assertThat(holder.pid()).isEqualTo(pid);
            assertThat(holder.who()).startsWith("nightly-report, role postgres");
            assertThat(holder.state()).isEqualTo("idle in transaction");
            assertThat(watch.oldestSeconds()).isGreaterThanOrEqualTo(1.0);

            Optional<HorizonWatch.Holder> again = watch.check();
            assertThat(again).get().extracting(HorizonWatch.Holder::pid).isEqualTo(pid);
            assertThat(again.get().age()).isGreaterThanOrEqualTo(holder.age());
            assertThat(logs.from(HorizonWatch.class)).as("one warning per holder, not one per look")
                    .singleElement().asString().startsWith("WARN session " + pid + " (nightly-report, role postgres")
                    .contains("idle in transaction) has held back vacuum for");

            pin.commit();
            assertThat(watch.check()).as("the transaction ended").isEmpty();
            assertThat(watch.oldestSeconds()).isZero();
            assertThat(logs.from(HorizonWatch.class)).hasSize(2).last().asString()
                    .startsWith("INFO vacuum is no longer held back by session " + pid + " (nightly-report");
        }
    }

    @Test
    void aNewTransactionOfTheSameSessionIsAnotherHolder() throws Exception {
        HorizonWatch watch = new HorizonWatch(db.jdbi(), Clock.systemUTC(), Duration.ofDays(1));
        try (Connection pin = pin(url, "loop")) {
            String first = watch.check().orElseThrow().xmin();
            try (Statement statement = pin.createStatement()) {
                statement.execute("SELECT txid_current()"); // a write: later transactions get later xids
            }
            pin.commit();
            try (Connection other = DriverManager.getConnection(url); Statement statement = other.createStatement()) {
                statement.execute("SELECT txid_current()");
            }
            try (Statement statement = pin.createStatement()) {
                statement.executeQuery("SELECT 1").close();
            }
            HorizonWatch.Holder second = watch.check().orElseThrow();
            assertThat(second.pid()).isEqualTo(pid(pin));
            assertThat(second.xmin()).as("a new snapshot").isNotEqualTo(first);
        }
    }

    /** A transaction that wrote holds back vacuum by its id, through every statement it runs: one holder, one warning. */
    @Test
    void aTransactionThatWroteIsOneHolderThroughItsStatements() throws Exception {
        HorizonWatch watch = new HorizonWatch(db.jdbi(), Clock.systemUTC(), Duration.ZERO);
        try (LogCapture logs = new LogCapture(); Connection writer = DriverManager.getConnection(url)) {
            writer.setAutoCommit(false);
            String xid;
            try (Statement statement = writer.createStatement()) {
                statement.executeQuery("SELECT txid_current()").close();
                try (ResultSet rs = statement.executeQuery("SELECT backend_xid::text FROM pg_stat_activity WHERE pid = pg_backend_pid()")) {
                    rs.next();
                    xid = rs.getString(1);
                }
            }
            assertThat(xid).isNotNull();
            assertThat(watch.check().orElseThrow().xmin()).isEqualTo(xid);
            for (int i = 0; i < 3; i++) {
                try (Statement statement = writer.createStatement()) {
                    statement.executeQuery("SELECT count(*) FROM live_jobs").close();
                }
                assertThat(watch.check().orElseThrow().xmin()).isEqualTo(xid);
            }
            assertThat(logs.from(HorizonWatch.class)).hasSize(1);
            writer.rollback();
        }
    }

    /**
     * A broker whose role may not see another role's transaction start (no pg_read_all_stats) still sees
     * its snapshot, and counts its age from when it first saw it, on its own clock.
     */
    @Test
    void anotherRolesTransactionIsTimedFromWhenTheWatchFirstSawIt() throws Exception {
        db.jdbi().useHandle(h -> h.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + WATCHER_ROLE
                + "') THEN CREATE ROLE " + WATCHER_ROLE + " LOGIN; END IF; END $$"));
        Jdbi asWatcher = Jdbi.create(url.replace("user=postgres", "user=" + WATCHER_ROLE));
        TestClock clock = new TestClock(Instant.parse("2026-12-02T08:00:00Z"));
        HorizonWatch watch = new HorizonWatch(asWatcher, clock, Duration.ofMinutes(5));

        try (LogCapture logs = new LogCapture(); Connection pin = pin(url, "weekly-export")) {
            int pid = pid(pin);
            HorizonWatch.Holder first = watch.check().orElseThrow();
            assertThat(first.pid()).isEqualTo(pid);
            assertThat(first.state()).as("hidden from this role").isNull();
            assertThat(first.age()).isZero();

            clock.advance(Duration.ofMinutes(4));
            assertThat(watch.check().orElseThrow().age()).isEqualTo(Duration.ofMinutes(4));
            assertThat(logs.from(HorizonWatch.class)).isEmpty();

            clock.advance(Duration.ofMinutes(2));
            assertThat(watch.check().orElseThrow().age()).isEqualTo(Duration.ofMinutes(6));
            assertThat(watch.oldestSeconds()).isEqualTo(360.0);
            assertThat(logs.from(HorizonWatch.class)).singleElement().asString()
                    .startsWith("WARN session " + pid + " (weekly-export, role postgres) has held back").contains("for 360 s");
        }
    }
}
