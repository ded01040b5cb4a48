package io.jobwire.broker.reliability;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.BrokerMessage;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchFilter;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.api.v1.WorkerServiceGrpc;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.broker.testing.LogCapture;
import io.jobwire.broker.testing.Progress;
import io.jobwire.broker.testing.TestPostgres;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Load faults: a reconnect storm after a broker restart, 10,000 watches and a watcher that never reads. */
@Tag("fault")
class LoadFaultTest {
    private static List<ManagedChannel> channels(int port, int count) {
        List<ManagedChannel> channels = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            channels.add(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build());
        }
        return channels;
    }

    private static void shutdown(List<ManagedChannel> channels) {
        channels.forEach(ManagedChannel::shutdownNow);
    }

    /** Submit answers within a short deadline: the broker is responsive. */
    private static void assertResponsive(ManagedChannel channel) {
        assertThat(JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
                .submit(SubmitRequest.newBuilder().setJob(JobSpec.newBuilder().setType("probe")).build()).getCreated())
                .isTrue();
    }

    @Test
    void reconnectStormOfFiveHundredWorkerStreamsAfterARestart() throws Exception {
        String db = TestPostgres.newDatabase();
        int port = Processes.freePort();
        BrokerFixture first = BrokerFixture.start(db, c -> c.port(port));
        List<ManagedChannel> channels = channels(port, 5);
        try {
            List<RawWorker> before = new ArrayList<>();
            for (int i = 0; i < 500; i++) {
                before.add(RawWorker.connect(WorkerServiceGrpc.newStub(channels.get(i % 5)), "storm-" + i, 1, "storm.job"));
            }
            first.close();
            before.forEach(worker -> assertThat(worker.awaitClosed().getCode()).isEqualTo(Status.Code.UNAVAILABLE));

            try (BrokerFixture second = BrokerFixture.start(db, c -> c.port(port))) {
                List<RawWorker> storm = new ArrayList<>();
                for (int i = 0; i < 500; i++) {
                    RawWorker worker = RawWorker.open(WorkerServiceGrpc.newStub(channels.get(i % 5)));
                    worker.send(WorkerMessage.newBuilder().setHello(RawWorker.hello("storm-" + i, 1, "storm.job")).build());
                    storm.add(worker);
                }
                assertResponsive(channels.get(0));
                for (RawWorker worker : storm) {
                    worker.await(BrokerMessage::hasWelcome, Duration.ofSeconds(30));
                    worker.credit(1);
                }
                SubmitBatchRequest.Builder batch = SubmitBatchRequest.newBuilder();
                for (int i = 0; i < 500; i++) {
                    batch.addJobs(JobSpec.newBuilder().setType("storm.job"));
                }
                JobServiceGrpc.newBlockingStub(channels.get(1)).submitBatch(batch.build());
                for (RawWorker worker : storm) {
                    AssignedJob job = worker.awaitJobs(1).get(0);
                    worker.complete(job.getLease(), "1");
                }
                assertThat(second.queryLong("SELECT count(*) FROM jobs WHERE type = 'storm.job' AND state = 'SUCCEEDED'"))
                        .as("each of the 500 reconnected streams ran a job").isEqualTo(500);
                await().atMost(scaled(Duration.ofSeconds(10))).until(() -> JobServiceGrpc.newBlockingStub(channels.get(2))
                        .stats(StatsRequest.newBuilder().setType("storm.job").build()).getWorkersCount() == 500);
                storm.forEach(RawWorker::close);
            }
        } finally {
            shutdown(channels);
            first.close();
        }
    }

    @Test
    void tenThousandWatchesAndAWatcherThatNeverReadsStayBounded() throws Exception {
        LogCapture log = new LogCapture();
        // A backlog bound well under the 10,000 changing jobs, so the silent watcher must hit it.
        try (log; BrokerFixture broker = BrokerFixture.start(c -> c.maxWatchesPerPrincipal(20_000).maxWatchBacklog(2_000))) {
            // 20 connections: the broker allows 1,000 calls per connection.
            List<ManagedChannel> channels = channels(broker.broker().port(), 20);
            try {
                List<String> ids = new ArrayList<>();
                for (int b = 0; b < 10; b++) {
                    SubmitBatchRequest.Builder batch = SubmitBatchRequest.newBuilder();
                    for (int i = 0; i < 1000; i++) {
                        batch.addJobs(JobSpec.newBuilder().setType("watched.job").setPayload("{\"pad\": \"" + "x".repeat(200) + "\"}"));
                    }
                    JobServiceGrpc.newBlockingStub(channels.get(b)).submitBatch(batch.build())
                            .getResultsList().forEach(result -> ids.add(result.getJob().getId()));
                }

                // A watcher that never reads: the broker must not buffer every change for it.
                CompletableFuture<Status> silentEnded = new CompletableFuture<>();
                AtomicInteger silentEvents = new AtomicInteger();
                List<ClientCallStreamObserver<WatchRequest>> silent = new java.util.concurrent.CopyOnWriteArrayList<>();
                JobServiceGrpc.newStub(channels.get(0)).watch(WatchRequest.newBuilder()
                        .setFilter(WatchFilter.newBuilder().addTypes("watched.job")).build(),
                        new ClientResponseObserver<WatchRequest, WatchEvent>() {
                            @Override
                            public void beforeStart(ClientCallStreamObserver<WatchRequest> stream) {
                                stream.disableAutoRequestWithInitial(0);
                                silent.add(stream);
                            }

                            @Override
                            public void onNext(WatchEvent event) {
                                silentEvents.incrementAndGet();
                            }

                            @Override
                            public void onError(Throwable t) {
                                silentEnded.complete(Status.fromThrowable(t));
                            }

                            @Override
                            public void onCompleted() {
                                silentEnded.complete(Status.OK);
                            }
                        });

                AtomicInteger finished = new AtomicInteger();
                AtomicInteger caughtUp = new AtomicInteger();
                for (int i = 0; i < ids.size(); i++) {
                    JobServiceGrpc.newStub(channels.get(1 + i % (channels.size() - 1))).watch(
                            WatchRequest.newBuilder().addIds(ids.get(i)).build(), new io.grpc.stub.StreamObserver<>() {
                                private boolean done;

                                @Override
                                public void onNext(WatchEvent event) {
                                    if (event.getCaughtUp()) {
                                        caughtUp.incrementAndGet();
                                    }
                                    if (event.hasJob() && event.getJob().getState() == JobState.JOB_STATE_SUCCEEDED && !done) {
                                        done = true;
                                        finished.incrementAndGet();
                                    }
                                }

                                @Override
                                public void onError(Throwable t) {
                                }

                                @Override
                                public void onCompleted() {
                                }
                            });
                }
                Progress.awaitCount("watches caught up", caughtUp::get, 10_000);
                assertResponsive(channels.get(3));

                List<RawWorker> workers = new ArrayList<>();
                List<CompletableFuture<Void>> running = new ArrayList<>();
                for (int w = 0; w < 4; w++) {
                    RawWorker worker = RawWorker.connect(WorkerServiceGrpc.newStub(channels.get(w)), "watched-" + w, 32,
                            "watched.job");
                    workers.add(worker);
                    running.add(CompletableFuture.runAsync(() -> {
                        worker.credit(32);
                        // Until every job is done; a quiet spell on a busy machine is not the end of the work.
                        while (finished.get() < 10_000) {
                            BrokerMessage message;
                            try {
                                message = worker.await(BrokerMessage::hasAssign, Duration.ofMillis(500));
                            } catch (AssertionError quiet) {
                                continue;
                            }
                            for (AssignedJob job : message.getAssign().getJobsList()) {
                                worker.send(WorkerMessage.newBuilder().setComplete(io.jobwire.api.v1.Complete.newBuilder()
                                        .setLease(job.getLease()).setResult("1")).build());
                                worker.credit(1);
                            }
                        }
                    }));
                }
                assertResponsive(channels.get(4));
                Progress.awaitCount("watched jobs finished", finished::get, 10_000);
                assertResponsive(channels.get(5));
                running.forEach(CompletableFuture::join);
                workers.forEach(RawWorker::close);

                // Now it reads: what the broker kept for it is bounded, and the stream ends on the bound.
                silent.get(0).request(Integer.MAX_VALUE);
                assertThat(silentEnded.get(30, TimeUnit.SECONDS).getCode())
                        .as("the silent watcher fell behind by more than its bound and was ended")
                        .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(silentEvents.get()).as("far fewer events than the 20,000 changes").isLessThan(10_000);
                System.gc();
                long usedMb = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() >> 20;
                System.out.printf("10,000 watches: heap in use after GC %d MB; the silent watcher got %d events%n",
                        usedMb, silentEvents.get());
                assertThat(usedMb).as("heap in use after 10,000 watches (broker and clients in one JVM)").isLessThan(512);
            } finally {
                shutdown(channels);
            }
        }
        assertThat(log.withStackTraces()).as("what a clean shutdown of a busy broker logged with a stack trace").isEmpty();
    }
}
