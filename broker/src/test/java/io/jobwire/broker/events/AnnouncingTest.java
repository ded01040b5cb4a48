package io.jobwire.broker.events;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobStatus;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * Who hears about changes: a broker announces its changes only while another broker listens, learns
 * that one does from its JOINED message or from the presence lock, and stops when it leaves; a backlog
 * it cannot send becomes one resync hint. The "other broker" here is a plain connection that does what
 * a broker's listener does, so the test can read every notification sent.
 */
class AnnouncingTest {
    private static final Duration QUIET = PgChangeListener.PEER_CHECK.multipliedBy(2);

    @Test
    void aLoneBrokerSendsNothingAndStartsWhenAnotherBrokerJoins() throws Exception {
        try (BrokerFixture broker = BrokerFixture.start(); Connection peer = DriverManager.getConnection(broker.jdbcUrl())) {
            execute(peer, "LISTEN " + Notifications.CHANNEL);
            broker.submit("announce.alone", "{}");
            Thread.sleep(QUIET.toMillis());
            assertThat(received(peer)).as("nobody holds the presence lock, so nothing is sent").isEmpty();

            execute(peer, "SELECT pg_advisory_lock_shared(" + PgChangeListener.PRESENCE_LOCK + ")");
            execute(peer, "NOTIFY " + Notifications.CHANNEL + ", '" + Notifications.joined("peer") + "'");
            awaitJoined(broker, peer);
            String id = broker.submit("announce.joined", "{}");

            List<Notifications.Notification> heard = new ArrayList<>();
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() -> {
                heard.addAll(received(peer));
                assertThat(heard).flatExtracting(Notifications.Notification::changes)
                        .extracting(JobChange::id).contains(Long.parseLong(id));
            });
            assertThat(heard).extracting(Notifications.Notification::origin).containsOnly(broker.broker().config().brokerId());
            assertThat(heard).flatExtracting(Notifications.Notification::changes)
                    .filteredOn(change -> change.id() == Long.parseLong(id))
                    .extracting(JobChange::state).containsExactly(JobStatus.QUEUED);
        }
    }

    @Test
    void theCountFindsAPeerThatNeverSaidHelloAndNoticesWhenItLeaves() throws Exception {
        try (BrokerFixture broker = BrokerFixture.start(); Connection peer = DriverManager.getConnection(broker.jdbcUrl())) {
            execute(peer, "LISTEN " + Notifications.CHANNEL);
            execute(peer, "SELECT pg_advisory_lock_shared(" + PgChangeListener.PRESENCE_LOCK + ")");
            await().atMost(scaled(Duration.ofSeconds(5))).until(() -> {
                String id = broker.submit("announce.counted", "{}");
                return received(peer).stream().flatMap(n -> n.changes().stream())
                        .anyMatch(change -> change.id() == Long.parseLong(id));
            });

            execute(peer, "SELECT pg_advisory_unlock_shared(" + PgChangeListener.PRESENCE_LOCK + ")");
            Thread.sleep(QUIET.toMillis());
            received(peer);
            broker.submit("announce.left", "{}");
            Thread.sleep(QUIET.toMillis());
            assertThat(received(peer)).as("the peer let go of the presence lock").isEmpty();
        }
    }

    @Test
    void aBacklogOverCapacityBecomesOneResyncHint() throws Exception {
        String url = TestPostgres.newDatabase();
        try (Connection peer = DriverManager.getConnection(url)) {
            execute(peer, "LISTEN " + Notifications.CHANNEL);
            ChangeAnnouncer announcer = new ChangeAnnouncer(Jdbi.create(url), "small", () -> true, 2);
            announcer.publish(List.of(change(1), change(2)));
            announcer.publish(List.of(change(3)));
            announcer.start();
            try {
                await().atMost(scaled(Duration.ofSeconds(5))).until(() -> announcer.sent() == 1);
                announcer.publish(List.of(change(4)));
                await().atMost(scaled(Duration.ofSeconds(5))).until(() -> announcer.sent() == 2);
            } finally {
                announcer.close();
            }
            List<Notifications.Notification> heard = new ArrayList<>();
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() -> {
                heard.addAll(received(peer));
                assertThat(heard).hasSize(2);
            });
            assertThat(heard.get(0).kind()).isEqualTo(Notifications.Kind.RESYNC);
            assertThat(heard.get(1).kind()).isEqualTo(Notifications.Kind.CHANGES);
            assertThat(heard.get(1).changes()).extracting(JobChange::id).containsExactly(4L);
        }
    }

    @Test
    void theListenerResyncsOnAHintAndCountsAJoinedBrokerAsListening() throws Exception {
        String url = TestPostgres.newDatabase();
        ChangeBus bus = new ChangeBus();
        AtomicInteger resyncs = new AtomicInteger();
        List<JobChange> changes = new ArrayList<>();
        bus.subscribe(new ChangeListener() {
            @Override
            public void onChanges(List<JobChange> batch) {
                synchronized (changes) {
                    changes.addAll(batch);
                }
            }

            @Override
            public void onResync() {
                resyncs.incrementAndGet();
            }
        });
        PgChangeListener listener = new PgChangeListener(() -> DriverManager.getConnection(url), "me", bus);
        try (Connection other = DriverManager.getConnection(url)) {
            listener.start(Duration.ofSeconds(5));
            assertThat(listener.peersListening()).as("alone on its database").isFalse();
            // one resync on connect, one after SETTLE
            await().atMost(scaled(Duration.ofSeconds(5))).until(() -> resyncs.get() == 2);

            execute(other, "NOTIFY " + Notifications.CHANNEL + ", 'other|*'");
            await().atMost(scaled(Duration.ofSeconds(5))).until(() -> resyncs.get() == 3);
            execute(other, "NOTIFY " + Notifications.CHANNEL + ", 'me|7:1:QUEUED:0:0'");
            execute(other, "NOTIFY " + Notifications.CHANNEL + ", 'not a notification'");
            execute(other, "NOTIFY " + Notifications.CHANNEL + ", 'other|8:2:QUEUED:0:0'");
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() -> {
                synchronized (changes) {
                    assertThat(changes).extracting(JobChange::id).containsExactly(8L);
                }
            });
            execute(other, "NOTIFY " + Notifications.CHANNEL + ", 'other|+'");
            await().atMost(scaled(Duration.ofSeconds(5))).until(listener::peersListening);
        } finally {
            listener.close();
        }
    }

    /** Waits until the broker has taken in the peer's JOINED message, by watching it announce something. */
    private static void awaitJoined(BrokerFixture broker, Connection peer) {
        await().atMost(scaled(Duration.ofSeconds(5))).until(() -> {
            String probe = broker.submit("announce.probe", "{}");
            return received(peer).stream().flatMap(n -> n.changes().stream())
                    .anyMatch(change -> change.id() == Long.parseLong(probe));
        });
    }

    private static JobChange change(long id) {
        return new JobChange(id, 1, JobStatus.QUEUED, 0, null, "t", "default", "o");
    }

    private static void execute(Connection connection, String sql) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    /** The notifications that arrived on the connection so far (empty if none). */
    private static List<Notifications.Notification> received(Connection connection) throws SQLException {
        PGNotification[] notifications = connection.unwrap(PGConnection.class).getNotifications(100);
        List<Notifications.Notification> parsed = new ArrayList<>();
        if (notifications != null) {
            for (PGNotification notification : notifications) {
                parsed.add(Notifications.parse(notification.getParameter()));
            }
        }
        return parsed;
    }
}
