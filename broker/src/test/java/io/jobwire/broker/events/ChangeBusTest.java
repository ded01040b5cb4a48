package io.jobwire.broker.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.broker.store.JobChange;
import io.jobwire.broker.store.JobStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ChangeBusTest {
    private static JobChange change(long id) {
        return new JobChange(id, 1, JobStatus.QUEUED, 0, null, "t", "default", "o");
    }

    /** Records what reaches it; the first delivery waits until the test lets it go. */
    private static final class Recorder implements ChangeListener {
        final CountDownLatch firstArrived = new CountDownLatch(1);
        final CountDownLatch letGo = new CountDownLatch(1);
        final List<String> seen = new ArrayList<>();

        @Override
        public void onChanges(List<JobChange> changes) {
            firstArrived.countDown();
            try {
                letGo.await(1, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (seen) {
                changes.forEach(change -> seen.add(Long.toString(change.id())));
            }
        }

        @Override
        public void onDue(boolean now, List<java.time.Instant> later) {
        }

        @Override
        public void onResync() {
            synchronized (seen) {
                seen.add("resync");
            }
        }

        List<String> seen() {
            synchronized (seen) {
                return List.copyOf(seen);
            }
        }
    }

    @Test
    void aSlowListenerDoesNotHoldUpThePublisherAndSeesEverythingInOrder() throws Exception {
        try (ChangeBus bus = new ChangeBus(100)) {
            Recorder recorder = new Recorder();
            bus.subscribe(recorder);
            bus.publish(List.of(change(1)));
            assertThat(recorder.firstArrived.await(30, TimeUnit.SECONDS)).isTrue();
            // The listener is stuck in the first delivery; publishing still returns at once.
            for (long id = 2; id <= 5; id++) {
                bus.publish(List.of(change(id)));
            }
            bus.resync();
            bus.publish(List.of(change(6), change(7)));
            assertThat(recorder.seen()).isEmpty();
            recorder.letGo.countDown();
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(recorder.seen())
                    .containsExactly("1", "2", "3", "4", "5", "resync", "6", "7"));
        }
    }

    @Test
    void deliveriesBeyondTheCapacityAreReplacedByOneResync() throws Exception {
        try (ChangeBus bus = new ChangeBus(3)) {
            Recorder recorder = new Recorder();
            bus.subscribe(recorder);
            bus.publish(List.of(change(1)));
            assertThat(recorder.firstArrived.await(30, TimeUnit.SECONDS)).isTrue();
            for (long id = 2; id <= 9; id++) {
                bus.publish(List.of(change(id)));
            }
            recorder.letGo.countDown();
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(recorder.seen()).endsWith("9"));
            List<String> seen = recorder.seen();
            assertThat(seen).startsWith("1").contains("resync").hasSizeLessThanOrEqualTo(1 + 3 + 1);
            // after the resync, what was published later arrives in order
            List<String> afterResync = seen.subList(seen.lastIndexOf("resync") + 1, seen.size());
            assertThat(afterResync).isSortedAccordingTo((a, b) -> Integer.parseInt(a) - Integer.parseInt(b)).isNotEmpty();
        }
    }
}
