package io.jobwire.broker.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.broker.db.Database;
import io.jobwire.broker.testing.TestPostgres;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Turns at the shared passes (migration V9): one broker per interval, whoever asks, however many at once. */
class PassTurnsTest {
    private static Database db;

    @BeforeAll
    static void open() {
        db = Database.connect(TestPostgres.newDatabase(), 8, Duration.ofSeconds(5), "test");
        db.migrate();
    }

    @AfterAll
    static void close() {
        db.close();
    }

    @Test
    void aPassRunByOneBrokerIsNotRunByAnotherWithinItsInterval() {
        PassTurns first = new PassTurns(db.jdbi(), "broker-1");
        PassTurns second = new PassTurns(db.jdbi(), "broker-2");
        Duration hour = Duration.ofHours(1);

        assertThat(first.take("reaper", hour)).as("nobody ran it yet").isTrue();
        assertThat(second.take("reaper", hour)).as("the first broker ran it just now").isFalse();
        assertThat(first.take("reaper", hour)).as("not even the same broker, within the interval").isFalse();
        assertThat(second.take("ring", hour)).as("each pass has its own turn").isTrue();

        // An interval that has passed already (a millisecond, of which nine tenths round to none).
        assertThat(second.take("reaper", Duration.ofMillis(1))).as("the interval is over: anyone's turn").isTrue();
        String lastRan = db.jdbi().withHandle(handle -> handle.createQuery(
                "SELECT broker_id FROM maintenance_turns WHERE pass = 'reaper'").mapTo(String.class).one());
        assertThat(lastRan).isEqualTo("broker-2");
    }

    @Test
    void brokersAskingAtOnceGetOneTurn() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Callable<Boolean>> asks = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                PassTurns turns = new PassTurns(db.jdbi(), "broker-" + i);
                asks.add(() -> turns.take("housekeeping", Duration.ofHours(1)));
            }
            int taken = 0;
            for (Future<Boolean> answer : pool.invokeAll(asks)) {
                taken += answer.get() ? 1 : 0;
            }
            assertThat(taken).isEqualTo(1);
        } finally {
            pool.shutdownNow();
        }
    }
}
