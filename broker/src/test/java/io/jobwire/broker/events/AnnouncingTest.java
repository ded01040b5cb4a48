package io.jobwire.broker.events;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.JobSpec;
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
 * that one does from its JOINED message or from the presence lock, and stops when it leaves; it sends
 * every change only while another broker has watchers (the watch lock, or its WATCHING message), and
 * otherwise what dispatchers and worker sessions need; a backlog it cannot send becomes one resync hint.
 * The "other broker" here is a plain connection that does what a broker's listener does, so the test
 * can read every notification sent.
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
            received(peer);
            broker.submit("announce.joined", "{}");

            List<Notifications.Notification> heard = new ArrayList<>();
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() -> {
                heard.addAll(received(peer));
                assertThat(heard).extracting(Notifications.Notification::kind).contains(Notifications.Kind.DUE);
            });
            assertThat(heard).extracting(Notifications.Notification::origin).containsOnly(broker.broker().config().brokerId());
            assertThat(heard).as("a new job is a hint for dispatchers, not a change").allSatisfy(notification -> {
                assertThat(notification.kind()).isEqualTo(Notifications.Kind.DUE);
                assertThat(notification.dueNow()).isTrue();
            });
        }
    }

    @Test
    void peersHearEveryChangeOnlyWhileOneHasWatchers() throws Exception {
        try (BrokerFixture broker = BrokerFixture.start(); Connection peer = DriverManager.getConnection(broker.jdbcUrl())) {
            execute(peer, "LISTEN " + Notifications.CHANNEL);
            execute(peer, "SELECT pg_advisory_lock_shared(" + PgChangeListener.PRESENCE_LOCK + ")");
            execute(peer, "NOTIFY " + Notifications.CHANNEL + ", '" + Notifications.joined("peer") + "'");
            awaitJoined(broker, peer);
            received(peer);

            // No watchers anywhere: a job run here and one cancelled here.
            long ran = runOne(broker, "announce.ran");
            long later = Long.parseLong(broker.submit(JobSpec.newBuilder().setType("announce.later").setPayload("{}")
                    .setRunAt(com.google.protobuf.Timestamp.newBuilder().setSeconds(System.currentTimeMillis() / 1000 + 3_600))
                    .build()));
            broker.jobs().cancel(CancelRequest.newBuilder().setId(Long.toString(later)).build());
            List<Notifications.Notification> quiet = new ArrayList<>();
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() -> {
                quiet.addAll(received(peer));
                assertThat(quiet).flatExtracting(Notifications.Notification::changes).extracting(JobChange::id).contains(later);
            });
            Thread.sleep(QUIET.toMillis());
            quiet.addAll(received(peer));
            assertThat(quiet).as("the cancel may end a lease held through another broker: sent, job by job")
                    .flatExtracting(Notifications.Notification::changes)
                    .extracting(JobChange::id, JobChange::state)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple(later, JobStatus.CANCELLED));
            assertThat(quiet).as("the job run here: its due hint only; the scheduled one: its time")
                    .filteredOn(n -> n.kind() == Notifications.Kind.DUE)
                    .anySatisfy(n -> assertThat(n.dueNow()).isTrue())
                    .flatExtracting(Notifications.Notification::dueLater)
                    .hasSize(1);
            assertThat(ran).isPositive();

            // The peer has watchers now: it hears every change of the next job, claim and completion too.
            execute(peer, "SELECT pg_advisory_lock_shared(" + PgChangeListener.WATCH_LOCK + ")");
            execute(peer, "NOTIFY " + Notifications.CHANNEL + ", '" + Notifications.watching("peer") + "'");
            await().atMost(scaled(Duration.ofSeconds(5))).until(() -> {
                String probe = broker.submit("announce.probe", "{}");
                return received(peer).stream().flatMap(n -> n.changes().stream())
                        .anyMatch(change -> change.id() == Long.parseLong(probe));
            });
            long watched = runOne(broker, "announce.watched");
            List<Notifications.Notification> heard = new ArrayList<>();
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() -> {
                heard.addAll(received(peer));
                assertThat(heard).flatExtracting(Notifications.Notification::changes)
                        .filteredOn(change -> change.id() == watched)
                        .extracting(JobChange::state)
                        .containsExactly(JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED);
            });

            // It lets go of the watch lock: the broker's next count goes back to hints.
            execute(peer, "SELECT pg_advisory_unlock_shared(" + PgChangeListener.WATCH_LOCK + ")");
            await().atMost(scaled(Duration.ofSeconds(10))).until(() -> {
                received(peer);
                long probe = runOne(broker, "announce.unwatched");
                Thread.sleep(PgChangeListener.PEER_CHECK.toMillis());
                return received(peer).stream().flatMap(n -> n.changes().stream()).noneMatch(change -> change.id() == probe);
            });
        }
    }

    /** Submits a job of the type and runs it through a worker on the broker; returns its id. */
    private static long runOne(BrokerFixture broker, String type) {
        String id = broker.submit(type, "{}");
        try (io.jobwire.broker.testing.RawWorker worker = broker.connectWorker("announce-worker", 1, type)) {
            io.jobwire.api.v1.AssignedJob job = worker.take(1).get(0);
            assertThat(job.getLease().getJobId()).isEqualTo(id);
            assertThat(worker.complete(job.getLease(), "{}").getStatus())
                    .isEqualTo(io.jobwire.api.v1.AckStatus.ACK_STATUS_ACCEPTED);
        }
        return Long.parseLong(id);
    }

    @Test
    void theCountFindsAPeerThatNeverSaidHelloAndNoticesWhenItLeaves() throws Exception {
        try (BrokerFixture broker = BrokerFixture.start(); Connection peer = DriverManager.getConnection(broker.jdbcUrl())) {
            execute(peer, "LISTEN " + Notifications.CHANNEL);
            execute(peer, "SELECT pg_advisory_lock_shared(" + PgChangeListener.PRESENCE_LOCK + ")");
            await().atMost(scaled(Duration.ofSeconds(5))).until(() -> {
                broker.submit("announce.counted", "{}");
                return received(peer).stream().anyMatch(n -> n.kind() == Notifications.Kind.DUE);
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
            ChangeAnnouncer announcer = new ChangeAnnouncer(Jdbi.create(url), "small", () -> true, () -> true, 2);
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
        ChangeBus bus = new ChangeBus(100);
        AtomicInteger resyncs = new AtomicInteger();
        List<JobChange> changes = new ArrayList<>();
        List<String> dues = new ArrayList<>();
        bus.subscribe(new ChangeListener() {
            @Override
            public void onDue(boolean now, List<java.time.Instant> later) {
                synchronized (dues) {
                    dues.add((now ? "now " : "") + later);
                }
            }

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
            execute(other, "NOTIFY " + Notifications.CHANNEL + ", 'other|!0,4102444800000'");
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() -> {
                synchronized (dues) {
                    assertThat(dues).containsExactly("now [2100-01-01T00:00:00Z]");
                }
            });
            execute(other, "NOTIFY " + Notifications.CHANNEL + ", 'other|+'");
            await().atMost(scaled(Duration.ofSeconds(5))).until(listener::peersListening);
            assertThat(listener.peersWatching()).isFalse();
            execute(other, "NOTIFY " + Notifications.CHANNEL + ", 'other|='");
            await().atMost(scaled(Duration.ofSeconds(5))).until(listener::peersWatching);
        } finally {
            listener.close();
        }
    }

    @Test
    void aWatchWaitsUntilTheListenerHoldsTheWatchLockAndHasSaidSo() throws Exception {
        String url = TestPostgres.newDatabase();
        java.util.concurrent.atomic.AtomicBoolean watchers = new java.util.concurrent.atomic.AtomicBoolean();
        PgChangeListener listener = new PgChangeListener(() -> DriverManager.getConnection(url), "watcher", new ChangeBus(100));
        listener.watchersFrom(watchers::get);
        try (Connection other = DriverManager.getConnection(url)) {
            execute(other, "LISTEN " + Notifications.CHANNEL);
            listener.start(Duration.ofSeconds(5));
            assertThat(watchHolders(other)).isZero();

            watchers.set(true);
            listener.announceWatching().get(scaled(Duration.ofSeconds(5)).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            assertThat(watchHolders(other)).as("the lock is held when the watch may start").isEqualTo(1);
            await().atMost(scaled(Duration.ofSeconds(5))).untilAsserted(() ->
                    assertThat(received(other)).extracting(Notifications.Notification::kind).contains(Notifications.Kind.WATCHING));
            assertThat(listener.announceWatching()).as("already held: at once").isDone();
        } finally {
            listener.close();
        }
    }

    private static long watchHolders(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
             java.sql.ResultSet rs = statement.executeQuery("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                     + " AND objid::bigint = " + (PgChangeListener.WATCH_LOCK & 0xFFFFFFFFL))) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Waits until the broker has taken in the peer's JOINED message, by watching it announce something. */
    private static void awaitJoined(BrokerFixture broker, Connection peer) {
        await().atMost(scaled(Duration.ofSeconds(5))).until(() -> {
            broker.submit("announce.probe", "{}");
            return received(peer).stream().anyMatch(n -> n.kind() == Notifications.Kind.DUE);
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
