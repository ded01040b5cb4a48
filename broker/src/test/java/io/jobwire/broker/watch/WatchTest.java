package io.jobwire.broker.watch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.jobwire.api.v1.AckStatus;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchFilter;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Watch against a real broker: the snapshot, the single caught_up marker, every change in order, the end
 * of an id watch, filters, and what a slow reader gets (coalesced states, or RESOURCE_EXHAUSTED for a
 * filter watch that falls too far behind).
 */
class WatchTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(10);

    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();

    @Test
    void watchByIdSendsSnapshotThenCaughtUpThenEveryChangeAndEnds() {
        String id = fixture.submit("watch.full", "{\"n\":1}");
        try (RawWorker worker = fixture.connectWorker("watch-full", 1, "watch.full")) {
            Watch watch = Watch.open(fixture.jobsAsync(), ids(id));
            WatchEvent snapshot = watch.next();
            assertThat(snapshot.getSnapshot()).isTrue();
            assertThat(snapshot.getCaughtUp()).isFalse();
            assertThat(snapshot.getJob().getId()).isEqualTo(id);
            assertThat(snapshot.getJob().getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
            WatchEvent caughtUp = watch.next();
            assertThat(caughtUp.getCaughtUp()).isTrue();
            assertThat(caughtUp.hasJob()).isFalse();
            assertThat(caughtUp.getSnapshot()).isFalse();

            AssignedJob job = worker.take(1).get(0);
            WatchEvent running = watch.next();
            assertThat(running.getSnapshot()).isFalse();
            assertThat(running.getJob().getState()).isEqualTo(JobState.JOB_STATE_RUNNING);
            assertThat(running.getJob().getAttempt()).isEqualTo(1);
            assertThat(running.getJob().getWorkerId()).isEqualTo("watch-full");

            for (int step = 1; step <= 4; step++) {
                String details = "{\"step\":" + step + ",\"of\":4}";
                assertThat(worker.progress(job.getLease(), step * 25f, "step " + step, details).getStatus())
                        .isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
                Job progressed = watch.next().getJob();
                assertThat(progressed.getState()).isEqualTo(JobState.JOB_STATE_RUNNING);
                assertThat(progressed.getProgress().getPercent()).isEqualTo(step * 25f);
                assertThat(progressed.getProgress().getMessage()).isEqualTo("step " + step);
                assertThat(json(progressed.getProgress().getDetails())).isEqualTo(json(details));
            }

            assertThat(worker.complete(job.getLease(), "{\"done\":true}").getStatus())
                    .isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            WatchEvent succeeded = watch.next();
            assertThat(succeeded.getJob().getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(json(succeeded.getJob().getResult())).isEqualTo(json("{\"done\":true}"));

            assertThat(watch.awaitEnd()).isEqualTo(Status.Code.OK);
            assertThat(watch.remaining()).isEmpty();
            assertThat(watch.received()).filteredOn(WatchEvent::getCaughtUp).hasSize(1);
            assertVersionsIncrease(watch.received());
            assertThat(watch.received()).hasSize(1 + 1 + 1 + 4 + 1);
            assertLastEventIsTheStoredRow(succeeded.getJob());
        }
    }

    @Test
    void changesMadeInQuickSuccessionArriveInVersionOrderAndEndWithTheFinalState() {
        String id = fixture.submit("watch.burst", "{}");
        try (RawWorker worker = fixture.connectWorker("watch-burst", 1, "watch.burst")) {
            Watch watch = Watch.open(fixture.jobsAsync(), ids(id));
            assertThat(watch.next().getSnapshot()).isTrue();
            assertThat(watch.next().getCaughtUp()).isTrue();
            AssignedJob job = worker.take(1).get(0);
            for (int step = 1; step <= 20; step++) {
                worker.progress(job.getLease(), step * 5f, "step " + step, "");
            }
            worker.complete(job.getLease(), "42");

            assertThat(watch.awaitEnd()).isEqualTo(Status.Code.OK);
            List<WatchEvent> changes = watch.received().subList(2, watch.received().size());
            assertThat(changes).isNotEmpty().allSatisfy(event -> assertThat(event.getSnapshot()).isFalse());
            assertVersionsIncrease(watch.received());
            Job last = changes.get(changes.size() - 1).getJob();
            assertThat(last.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(last.getResult()).isEqualTo("42");
            assertLastEventIsTheStoredRow(last);
        }
    }

    @Test
    void watchOfSeveralIdsEndsOnlyWhenAllAreFinished() {
        String first = fixture.submit("watch.many", "{\"i\":1}");
        String second = fixture.submit("watch.many", "{\"i\":2}");
        String third = fixture.submit("watch.many", "{\"i\":3}");
        try (RawWorker worker = fixture.connectWorker("watch-many", 3, "watch.many")) {
            Watch watch = Watch.open(fixture.jobsAsync(), ids(first, second, third));
            List<WatchEvent> snapshot = List.of(watch.next(), watch.next(), watch.next());
            assertThat(snapshot).allSatisfy(event -> assertThat(event.getSnapshot()).isTrue());
            assertThat(snapshot).extracting(event -> event.getJob().getId()).containsExactly(first, second, third);
            assertThat(watch.next().getCaughtUp()).isTrue();

            Map<String, AssignedJob> byId = new HashMap<>();
            worker.take(2).forEach(job -> byId.put(job.getLease().getJobId(), job));
            assertThat(byId).containsOnlyKeys(first, second);
            awaitState(watch, first, JobState.JOB_STATE_RUNNING);
            awaitState(watch, second, JobState.JOB_STATE_RUNNING);

            worker.complete(byId.get(first).getLease(), "1");
            awaitState(watch, first, JobState.JOB_STATE_SUCCEEDED);
            worker.complete(byId.get(second).getLease(), "2");
            awaitState(watch, second, JobState.JOB_STATE_SUCCEEDED);
            assertThat(watch.isEnded()).isFalse();

            AssignedJob last = worker.take(1).get(0);
            assertThat(last.getLease().getJobId()).isEqualTo(third);
            // Events keep coming after two of the three finished: the watch is still open.
            awaitState(watch, third, JobState.JOB_STATE_RUNNING);
            assertThat(watch.isEnded()).isFalse();
            worker.fail(last.getLease(), "broken for good", false);
            awaitState(watch, third, JobState.JOB_STATE_FAILED);

            assertThat(watch.awaitEnd()).isEqualTo(Status.Code.OK);
            assertThat(watch.remaining()).isEmpty();
            assertVersionsIncrease(watch.received());
        }
    }

    @Test
    void watchOfAFinishedJobSendsSnapshotCaughtUpAndEnds() {
        String id = fixture.submit("watch.done", "{}");
        fixture.jobs().cancel(CancelRequest.newBuilder().setId(id).setReason("not needed").build());

        Watch watch = Watch.open(fixture.jobsAsync(), ids(id));
        assertThat(watch.awaitEnd()).isEqualTo(Status.Code.OK);
        List<WatchEvent> events = watch.received();
        assertThat(events).hasSize(2);
        assertThat(events.get(0).getSnapshot()).isTrue();
        assertThat(events.get(0).getJob().getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
        assertThat(events.get(1).getCaughtUp()).isTrue();
        assertThat(events.get(1).hasJob()).isFalse();
    }

    @Test
    void cancellingAWatchedRunningJobEndsTheWatchWithCancelled() {
        String id = fixture.submit("watch.cancel", "{}");
        try (RawWorker worker = fixture.connectWorker("watch-cancel", 1, "watch.cancel")) {
            AssignedJob job = worker.take(1).get(0);
            Watch watch = Watch.open(fixture.jobsAsync(), ids(id));
            WatchEvent snapshot = watch.next();
            assertThat(snapshot.getJob().getState()).isEqualTo(JobState.JOB_STATE_RUNNING);
            assertThat(watch.next().getCaughtUp()).isTrue();

            fixture.jobs().cancel(CancelRequest.newBuilder().setId(id).setReason("operator").build());

            WatchEvent cancelled = watch.next();
            assertThat(cancelled.getJob().getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
            assertThat(cancelled.getJob().getLastError()).contains("operator");
            assertThat(watch.awaitEnd()).isEqualTo(Status.Code.OK);
            assertThat(watch.remaining()).isEmpty();
            assertLastEventIsTheStoredRow(cancelled.getJob());
            BrokerMessage cancel = worker.await(BrokerMessage::hasCancelJob);
            assertThat(cancel.getCancelJob().getJobId()).isEqualTo(id);
            assertThat(worker.complete(job.getLease(), "{}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_CANCELLED);
        }
    }

    @Test
    void filterWatchSendsMatchingUnfinishedJobsUpToTheLimitThenOnlyMatchingChanges() {
        // Before the watch: four matching unfinished jobs, and jobs the filter excludes.
        List<String> matching = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            matching.add(fixture.submit(spec("filter.match", "q1", "{\"i\":" + i + "}")));
        }
        String otherType = fixture.submit(spec("filter.other", "q1", "{}"));
        String otherQueue = fixture.submit(spec("filter.match", "q2", "{}"));
        String finished = fixture.submit(spec("filter.match", "q1", "{}"));
        fixture.jobs().cancel(CancelRequest.newBuilder().setId(finished).build());

        Watch watch = Watch.open(fixture.jobsAsync(), WatchRequest.newBuilder().setFilter(WatchFilter.newBuilder()
                .addTypes("filter.match").addQueues("q1").setSnapshotLimit(3)).build());
        List<WatchEvent> snapshot = List.of(watch.next(), watch.next(), watch.next());
        assertThat(snapshot).allSatisfy(event -> assertThat(event.getSnapshot()).isTrue());
        // Newest first, and only as many as snapshot_limit.
        assertThat(snapshot).extracting(event -> event.getJob().getId())
                .containsExactly(matching.get(3), matching.get(2), matching.get(1));
        assertThat(watch.next().getCaughtUp()).isTrue();

        try (RawWorker others = fixture.connectWorker("filter-others", 2, "filter.other", "filter.match")) {
            String laterOther = fixture.submit(spec("filter.other", "q1", "{}"));
            String laterOtherQueue = fixture.submit(spec("filter.match", "q2", "{}"));
            // The worker takes the oldest due jobs first: the first two matching ones.
            List<AssignedJob> taken = others.take(2);
            assertThat(taken).extracting(job -> job.getLease().getJobId())
                    .containsExactly(matching.get(0), matching.get(1));
            taken.forEach(job -> others.complete(job.getLease(), "{}"));
            String laterMatch = fixture.submit(spec("filter.match", "q1", "{}"));

            awaitState(watch, matching.get(0), JobState.JOB_STATE_SUCCEEDED);
            awaitState(watch, matching.get(1), JobState.JOB_STATE_SUCCEEDED);
            awaitState(watch, laterMatch, JobState.JOB_STATE_QUEUED);
            watch.cancel();

            Set<String> seen = watch.received().stream().filter(WatchEvent::hasJob)
                    .map(event -> event.getJob().getId()).collect(Collectors.toSet());
            assertThat(seen).doesNotContain(otherType, otherQueue, laterOther, laterOtherQueue);
            // The job cancelled just before the watch began is not in the snapshot; its cancellation may
            // still arrive as a change (changes reach watches after their commit has been answered).
            assertThat(watch.received()).filteredOn(event -> event.hasJob() && event.getJob().getId().equals(finished))
                    .allSatisfy(event -> {
                        assertThat(event.getSnapshot()).isFalse();
                        assertThat(event.getJob().getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
                    });
            assertThat(watch.received()).filteredOn(WatchEvent::hasJob).allSatisfy(event -> {
                assertThat(event.getJob().getType()).isEqualTo("filter.match");
                assertThat(event.getJob().getQueue()).isEqualTo("q1");
            });
            assertVersionsIncrease(watch.received());
        }
    }

    @Test
    void filterWatchOnSucceededSendsOnlySucceededEvents() {
        String before = fixture.submit(spec("state.filter", "default", "{}"));
        try (RawWorker worker = fixture.connectWorker("state-filter", 2, "state.filter", "state.noise")) {
            AssignedJob done = worker.take(1).get(0);
            worker.complete(done.getLease(), "\"before\"");

            Watch watch = Watch.open(fixture.jobsAsync(), WatchRequest.newBuilder().setFilter(WatchFilter.newBuilder()
                    .addTypes("state.filter").addStates(JobState.JOB_STATE_SUCCEEDED)).build());
            WatchEvent snapshot = watch.next();
            assertThat(snapshot.getSnapshot()).isTrue();
            assertThat(snapshot.getJob().getId()).isEqualTo(before);
            assertThat(snapshot.getJob().getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(watch.next().getCaughtUp()).isTrue();

            String failing = fixture.submit(spec("state.filter", "default", "{}"));
            AssignedJob toFail = worker.take(1).get(0);
            assertThat(toFail.getLease().getJobId()).isEqualTo(failing);
            worker.progress(toFail.getLease(), 50f, "half", "");
            worker.fail(toFail.getLease(), "no", false);
            String noise = fixture.submit(spec("state.noise", "default", "{}"));
            worker.complete(worker.take(1).get(0).getLease(), "{}");
            String succeeding = fixture.submit(spec("state.filter", "default", "{}"));
            AssignedJob toSucceed = worker.take(1).get(0);
            worker.progress(toSucceed.getLease(), 10f, "going", "");
            worker.complete(toSucceed.getLease(), "\"after\"");
            String later = fixture.submit(spec("state.filter", "default", "{}"));

            WatchEvent change = watch.next();
            assertThat(change.getJob().getId()).isEqualTo(succeeding);
            assertThat(change.getJob().getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(change.getJob().getResult()).isEqualTo("\"after\"");
            // The later job was QUEUED, then RUNNING, then SUCCEEDED: only the last is an event.
            AssignedJob laterJob = worker.take(1).get(0);
            assertThat(laterJob.getLease().getJobId()).isEqualTo(later);
            worker.complete(laterJob.getLease(), "{}");
            WatchEvent next = watch.next();
            assertThat(next.getJob().getId()).isEqualTo(later);
            assertThat(next.getJob().getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            watch.cancel();
            assertThat(watch.received()).filteredOn(WatchEvent::hasJob).extracting(event -> event.getJob().getId())
                    .doesNotContain(failing, noise);
            assertThat(watch.received()).filteredOn(WatchEvent::hasJob)
                    .allSatisfy(event -> assertThat(event.getJob().getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED));
        }
    }

    @Test
    void slowWatcherGetsCoalescedStatesAndTheFinalState() throws Exception {
        // A payload of a few KiB makes every event big, so the transport's buffers (a 64 KiB window on this
        // channel, the server's 32 KiB ready threshold) fill after a handful of events and the broker has
        // to hold the rest itself.
        String payload = "{\"blob\":\"" + "x".repeat(16 * 1024) + "\"}";
        String id = fixture.submit("watch.slow", payload);
        int updates = 300;
        ManagedChannel narrow = narrowChannel();
        try (RawWorker worker = fixture.connectWorker("watch-slow", 1, "watch.slow")) {
            Watch watch = Watch.openManual(JobServiceGrpc.newStub(narrow), ids(id), 1);
            WatchEvent snapshot = watch.next();
            assertThat(snapshot.getSnapshot()).isTrue();

            AssignedJob job = worker.take(1).get(0);
            for (int step = 1; step <= updates; step++) {
                assertThat(worker.progress(job.getLease(), step * 100f / updates, "step " + step,
                        "{\"step\":" + step + "}").getStatus()).isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            }
            assertThat(worker.complete(job.getLease(), "{\"ok\":true}").getStatus())
                    .isEqualTo(AckStatus.ACK_STATUS_ACCEPTED);
            assertThat(watch.isEnded()).isFalse();

            watch.request(Integer.MAX_VALUE);
            assertThat(watch.awaitEnd()).isEqualTo(Status.Code.OK);
            List<WatchEvent> events = watch.received();
            assertThat(events.get(1).getCaughtUp()).isTrue();
            List<WatchEvent> changes = events.subList(2, events.size());
            // 1 claim + 300 progress updates + 1 completion were committed; far fewer arrive.
            assertThat(changes).hasSizeLessThan((updates + 2) / 5);
            assertVersionsIncrease(events);
            Job last = changes.get(changes.size() - 1).getJob();
            assertThat(last.getState()).isEqualTo(JobState.JOB_STATE_SUCCEEDED);
            assertThat(last.getVersion()).isEqualTo(1 + 1 + updates + 1);
            assertLastEventIsTheStoredRow(last);
        } finally {
            narrow.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void filterWatchFallingTooFarBehindEndsWithResourceExhaustedAndOthersCarryOn() throws Exception {
        try (BrokerFixture small = BrokerFixture.start(config -> config.maxWatchBacklog(50))) {
            ManagedChannel narrow = NettyChannelBuilder.forAddress("127.0.0.1", small.broker().port())
                    .usePlaintext().flowControlWindow(64 * 1024).build();
            try {
                Watch stalled = Watch.openManual(JobServiceGrpc.newStub(narrow), WatchRequest.newBuilder()
                        .setFilter(WatchFilter.newBuilder().addTypes("backlog.job")).build(), 1);
                assertThat(stalled.next().getCaughtUp()).isTrue();
                Watch reader = Watch.open(small.jobsAsync(), WatchRequest.newBuilder()
                        .setFilter(WatchFilter.newBuilder().addTypes("backlog.marker")).build());
                assertThat(reader.next().getCaughtUp()).isTrue();

                String payload = "{\"blob\":\"" + "y".repeat(4 * 1024) + "\"}";
                SubmitBatchRequest.Builder batch = SubmitBatchRequest.newBuilder();
                for (int i = 0; i < 200; i++) {
                    batch.addJobs(JobSpec.newBuilder().setType("backlog.job").setPayload(payload));
                }
                small.jobs().submitBatch(batch.build());
                // A marker submitted after the batch reaches the other watcher once the hub's single loader
                // has got past the batch, so the batch has been offered to the stalled watcher by then.
                String marker = small.submit("backlog.marker", "{}");
                assertThat(reader.next().getJob().getId()).isEqualTo(marker);

                stalled.request(Integer.MAX_VALUE);
                Status.Code code = stalled.awaitEnd();
                assertThat(code).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(stalled.endStatus().getDescription()).contains("50");
                assertThat(stalled.received()).filteredOn(WatchEvent::hasJob).hasSizeLessThan(200);

                // The broker keeps serving: the other watch still gets changes, and new calls work.
                String after = small.submit("backlog.marker", "{}");
                assertThat(reader.next().getJob().getId()).isEqualTo(after);
                Watch fresh = Watch.open(small.jobsAsync(), ids(after));
                assertThat(fresh.next().getJob().getId()).isEqualTo(after);
                fresh.cancel();
                reader.cancel();
            } finally {
                narrow.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    private static ManagedChannel narrowChannel() {
        return NettyChannelBuilder.forAddress("127.0.0.1", fixture.broker().port())
                .usePlaintext()
                .flowControlWindow(64 * 1024)
                .build();
    }

    private static WatchRequest ids(String... ids) {
        return WatchRequest.newBuilder().addAllIds(List.of(ids)).build();
    }

    private static JobSpec spec(String type, String queue, String payload) {
        return JobSpec.newBuilder().setType(type).setQueue(queue).setPayload(payload).build();
    }

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Returns once an event for {@code id} in {@code state} was received, taking events as needed (events
     * of different jobs changed together may come in either order).
     */
    private static void awaitState(Watch watch, String id, JobState state) {
        if (watch.received().stream().anyMatch(event -> event.hasJob() && event.getJob().getId().equals(id)
                && event.getJob().getState() == state)) {
            return;
        }
        while (true) {
            WatchEvent event = watch.next();
            if (event.hasJob() && event.getJob().getId().equals(id) && event.getJob().getState() == state) {
                return;
            }
        }
    }

    /** Per job, every event has a higher version than the one before. */
    private static void assertVersionsIncrease(List<WatchEvent> events) {
        Map<String, Long> last = new HashMap<>();
        for (WatchEvent event : events) {
            if (event.hasJob()) {
                Long before = last.put(event.getJob().getId(), event.getJob().getVersion());
                if (before != null) {
                    assertThat(event.getJob().getVersion()).as("version of job %s", event.getJob().getId())
                            .isGreaterThan(before);
                }
            }
        }
    }

    /** The last event is the job exactly as stored: Get (without history) and the row agree with it. */
    private static void assertLastEventIsTheStoredRow(Job last) {
        Job stored = fixture.jobs().get(GetRequest.newBuilder().setId(last.getId()).build());
        assertThat(last).isEqualTo(stored.toBuilder().clearAttempts().build());
        assertThat(fixture.queryString("SELECT state FROM jobs WHERE id = " + last.getId()))
                .isEqualTo(last.getState().name().substring("JOB_STATE_".length()));
        assertThat(fixture.queryLong("SELECT version FROM jobs WHERE id = " + last.getId()))
                .isEqualTo(last.getVersion());
    }

    /** One Watch call: every event lands in a queue, in order; the end status is kept. */
    private static final class Watch implements ClientResponseObserver<WatchRequest, WatchEvent> {
        private final BlockingQueue<WatchEvent> inbox = new LinkedBlockingQueue<>();
        private final List<WatchEvent> received = new ArrayList<>();
        private final CompletableFuture<Status> end = new CompletableFuture<>();
        private final int initialRequest;
        private ClientCallStreamObserver<WatchRequest> call;

        private Watch(int initialRequest) {
            this.initialRequest = initialRequest;
        }

        static Watch open(JobServiceGrpc.JobServiceStub stub, WatchRequest request) {
            Watch watch = new Watch(-1);
            stub.watch(request, watch);
            return watch;
        }

        /** A watch that asks for {@code initial} events and then for no more until {@link #request}. */
        static Watch openManual(JobServiceGrpc.JobServiceStub stub, WatchRequest request, int initial) {
            Watch watch = new Watch(initial);
            stub.watch(request, watch);
            return watch;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<WatchRequest> requestStream) {
            this.call = requestStream;
            if (initialRequest >= 0) {
                requestStream.disableAutoRequestWithInitial(initialRequest);
            }
        }

        @Override
        public void onNext(WatchEvent event) {
            inbox.add(event);
        }

        @Override
        public void onError(Throwable t) {
            end.complete(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            end.complete(Status.OK);
        }

        void request(int n) {
            call.request(n);
        }

        WatchEvent next() {
            try {
                WatchEvent event = inbox.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                assertThat(event).as("a watch event within %s (ended: %s)", WAIT, end.getNow(null)).isNotNull();
                received.add(event);
                return event;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }

        /** Waits for the end of the stream and takes every event still queued. */
        Status.Code awaitEnd() {
            await().atMost(WAIT).until(end::isDone);
            inbox.drainTo(received);
            return end.join().getCode();
        }

        Status endStatus() {
            return end.join();
        }

        boolean isEnded() {
            return end.isDone();
        }

        /** Events received but not yet taken with next(). */
        List<WatchEvent> remaining() {
            return List.copyOf(inbox);
        }

        List<WatchEvent> received() {
            return received;
        }

        void cancel() {
            call.cancel("test done", null);
            inbox.drainTo(received);
        }
    }

    @Test
    void aFilterWatchWithoutTypesSeesEveryTypeAndOneWithTypesOnlyThose() {
        Watch anyType = Watch.open(fixture.jobsAsync(), WatchRequest.newBuilder().setFilter(WatchFilter.newBuilder()
                .addQueues("q.any").setSnapshotLimit(0)).build());
        Watch oneType = Watch.open(fixture.jobsAsync(), WatchRequest.newBuilder().setFilter(WatchFilter.newBuilder()
                .addTypes("any.one").addQueues("q.any").setSnapshotLimit(0)).build());
        assertThat(anyType.next().getCaughtUp()).isTrue();
        assertThat(oneType.next().getCaughtUp()).isTrue();
        String first = fixture.submit(spec("any.one", "q.any", "{}"));
        String second = fixture.submit(spec("any.two", "q.any", "{}"));
        String elsewhere = fixture.submit(spec("any.two", "q.other", "{}"));
        String last = fixture.submit(spec("any.one", "q.any", "{}"));

        awaitState(anyType, first, JobState.JOB_STATE_QUEUED);
        awaitState(anyType, second, JobState.JOB_STATE_QUEUED);
        awaitState(anyType, last, JobState.JOB_STATE_QUEUED);
        awaitState(oneType, first, JobState.JOB_STATE_QUEUED);
        awaitState(oneType, last, JobState.JOB_STATE_QUEUED);
        anyType.cancel();
        oneType.cancel();
        assertThat(anyType.received().stream().filter(WatchEvent::hasJob).map(event -> event.getJob().getId()))
                .doesNotContain(elsewhere);
        assertThat(oneType.received().stream().filter(WatchEvent::hasJob).map(event -> event.getJob().getId()))
                .doesNotContain(second, elsewhere);
    }
}
