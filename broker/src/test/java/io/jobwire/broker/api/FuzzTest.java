package io.jobwire.broker.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Duration;
import com.google.protobuf.Message;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.Complete;
import io.jobwire.api.v1.Credit;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.HoldRequest;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.LeaseRef;
import io.jobwire.api.v1.ListJobTypesRequest;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.ReleaseRequest;
import io.jobwire.api.v1.RetryPolicy;
import io.jobwire.api.v1.RetryRequest;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.WatchFilter;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.api.v1.WorkerMessage;
import io.jobwire.api.v1.WorkerServiceGrpc;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Thousands of randomly mutated valid requests to every RPC, sent as raw bytes: never INTERNAL or
 * UNKNOWN, the broker keeps serving, and a rejected submit writes no row.
 */
class FuzzTest {
    private static final long SEED = Long.getLong("fuzz.seed", System.nanoTime());
    private static final int PER_METHOD = 150;
    private static final Status.Code[] FORBIDDEN = {Status.Code.INTERNAL, Status.Code.UNKNOWN};
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass();
    private static String someId;

    @BeforeAll
    static void start() {
        someId = fixture.submit("fuzz.seed", "{\"a\":[1,2,{\"b\":\"c\"}]}");
    }

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    };

    private static <Q, R> MethodDescriptor<byte[], byte[]> raw(MethodDescriptor<Q, R> method) {
        return method.toBuilder(BYTES, BYTES).build();
    }

    private static JobSpec spec() {
        return JobSpec.newBuilder().setType("fuzz.job").setQueue("q1").setPayload("{\"n\":1,\"s\":\"text\"}")
                .setPriority(5).setDelay(Duration.newBuilder().setSeconds(3600)).setIdempotencyKey("key-1")
                .setMaxAttempts(3).setLeaseDuration(Duration.newBuilder().setSeconds(10)).putLabels("team", "core")
                .setRetryPolicy(RetryPolicy.newBuilder().setInitialDelay(Duration.newBuilder().setSeconds(1))).build();
    }

    /** Flips, truncates, inserts, duplicates or replaces bytes. */
    private static byte[] mutate(byte[] valid, Random random) {
        byte[] bytes = valid.clone();
        switch (random.nextInt(5)) {
            case 0 -> {
                for (int i = 0, n = 1 + random.nextInt(4); i < n && bytes.length > 0; i++) {
                    bytes[random.nextInt(bytes.length)] ^= (byte) (1 << random.nextInt(8));
                }
            }
            case 1 -> bytes = java.util.Arrays.copyOf(bytes, bytes.length == 0 ? 0 : random.nextInt(bytes.length));
            case 2 -> {
                int at = bytes.length == 0 ? 0 : random.nextInt(bytes.length);
                byte[] grown = new byte[bytes.length + 1 + random.nextInt(8)];
                System.arraycopy(bytes, 0, grown, 0, at);
                for (int i = at; i < at + grown.length - bytes.length; i++) {
                    grown[i] = (byte) random.nextInt(256);
                }
                System.arraycopy(bytes, at, grown, at + grown.length - bytes.length, bytes.length - at);
                bytes = grown;
            }
            case 3 -> {
                byte[] twice = new byte[bytes.length * 2];
                System.arraycopy(bytes, 0, twice, 0, bytes.length);
                System.arraycopy(bytes, 0, twice, bytes.length, bytes.length);
                bytes = twice;
            }
            default -> random.nextBytes(bytes);
        }
        return bytes;
    }

    private static Status.Code callUnary(MethodDescriptor<byte[], byte[]> method, byte[] request) {
        try {
            ClientCalls.blockingUnaryCall(fixture.channel(), method, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS),
                    request);
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    private static Status.Code callWatch(byte[] request) {
        try {
            Iterator<byte[]> events = ClientCalls.blockingServerStreamingCall(fixture.channel(),
                    raw(JobServiceGrpc.getWatchMethod()), CallOptions.DEFAULT.withDeadlineAfter(300, TimeUnit.MILLISECONDS),
                    request);
            while (events.hasNext()) {
                events.next();
            }
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    @Test
    void mutatedRequestsNeverCauseInternalErrorsOrWrites() {
        Random random = new Random(SEED);
        Map<String, Message> seeds = new java.util.LinkedHashMap<>();
        seeds.put("Submit", SubmitRequest.newBuilder().setJob(spec()).build());
        seeds.put("SubmitBatch", SubmitBatchRequest.newBuilder().addJobs(spec()).addJobs(spec().toBuilder().setIdempotencyKey("key-2"))
                .addJobs(JobSpec.newBuilder().setType("fuzz.other")).build());
        seeds.put("Get", GetRequest.newBuilder().setId(someId).build());
        seeds.put("List", ListRequest.newBuilder().addStates(JobState.JOB_STATE_QUEUED).setType("fuzz.seed")
                .putLabels("a", "b").setPayloadContains("{\"a\":[1]}").setPageSize(10).build());
        seeds.put("Cancel", CancelRequest.newBuilder().setId(someId).setReason("fuzz").build());
        seeds.put("Retry", RetryRequest.newBuilder().setId(someId).build());
        seeds.put("Hold", HoldRequest.newBuilder().setId(someId).build());
        seeds.put("Release", ReleaseRequest.newBuilder().setId(someId).build());
        seeds.put("Stats", StatsRequest.newBuilder().setType("fuzz.seed").setQueue("default").build());
        seeds.put("ListJobTypes", ListJobTypesRequest.getDefaultInstance());
        Map<String, MethodDescriptor<byte[], byte[]>> methods = Map.of(
                "Submit", raw(JobServiceGrpc.getSubmitMethod()), "SubmitBatch", raw(JobServiceGrpc.getSubmitBatchMethod()),
                "Get", raw(JobServiceGrpc.getGetMethod()), "List", raw(JobServiceGrpc.getListMethod()),
                "Cancel", raw(JobServiceGrpc.getCancelMethod()), "Retry", raw(JobServiceGrpc.getRetryMethod()),
                "Hold", raw(JobServiceGrpc.getHoldMethod()), "Release", raw(JobServiceGrpc.getReleaseMethod()),
                "Stats", raw(JobServiceGrpc.getStatsMethod()), "ListJobTypes", raw(JobServiceGrpc.getListJobTypesMethod()));

        Map<Status.Code, Integer> seen = new EnumMap<>(Status.Code.class);
        int calls = 0;
        for (Map.Entry<String, Message> seed : seeds.entrySet()) {
            boolean writesJobs = seed.getKey().startsWith("Submit");
            for (int i = 0; i < PER_METHOD; i++) {
                byte[] request = mutate(seed.getValue().toByteArray(), random);
                long before = writesJobs ? jobs() : 0;
                Status.Code code = callUnary(methods.get(seed.getKey()), request);
                calls++;
                seen.merge(code, 1, Integer::sum);
                assertThat(code).as("%s with mutated request #%d (seed %d)", seed.getKey(), i, SEED).isNotIn((Object[]) FORBIDDEN);
                if (writesJobs && code != Status.Code.OK) {
                    assertThat(jobs()).as("a rejected %s wrote nothing (seed %d)", seed.getKey(), SEED).isEqualTo(before);
                }
            }
        }
        byte[][] watchSeeds = {WatchRequest.newBuilder().addIds(someId).build().toByteArray(),
                WatchRequest.newBuilder().setFilter(WatchFilter.newBuilder().addTypes("fuzz.seed")
                        .addStates(JobState.JOB_STATE_QUEUED).setSnapshotLimit(5)).build().toByteArray()};
        // Watches that parse stay open until their deadline, so they run side by side.
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(32);
        try {
            List<CompletableFuture<Status.Code>> watches = new java.util.ArrayList<>();
            for (int i = 0; i < PER_METHOD; i++) {
                byte[] request = mutate(watchSeeds[i % 2], random);
                watches.add(CompletableFuture.supplyAsync(() -> callWatch(request), pool));
            }
            for (int i = 0; i < watches.size(); i++) {
                Status.Code code = watches.get(i).join();
                calls++;
                seen.merge(code, 1, Integer::sum);
                assertThat(code).as("Watch with mutated request #%d (seed %d)", i, SEED).isNotIn((Object[]) FORBIDDEN);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(seen.get(Status.Code.INVALID_ARGUMENT)).as("mutations are mostly refused: %s", seen).isPositive();
        assertThat(calls).isGreaterThanOrEqualTo(PER_METHOD * 10);
        assertThat(fixture.submit("fuzz.after", "{}")).as("the broker still serves").isNotEmpty();
    }

    @Test
    void mutatedWorkerMessagesNeverCauseInternalErrors() throws Exception {
        Random random = new Random(SEED + 1);
        LeaseRef lease = LeaseRef.newBuilder().setJobId(someId).setAttempt(1).setLeaseToken(UUID.randomUUID().toString()).build();
        List<byte[]> seeds = List.of(
                WorkerMessage.newBuilder().setHello(RawWorker.hello("fuzzer", 2, "fuzz.worker")).build().toByteArray(),
                WorkerMessage.newBuilder().setCredit(Credit.newBuilder().setJobs(2)).build().toByteArray(),
                WorkerMessage.newBuilder().setComplete(Complete.newBuilder().setLease(lease).setResult("{\"x\":1}")).build().toByteArray());
        MethodDescriptor<byte[], byte[]> connect = raw(WorkerServiceGrpc.getConnectMethod());
        for (int i = 0; i < 200; i++) {
            ClientCall<byte[], byte[]> call = fixture.channel().newCall(connect, CallOptions.DEFAULT.withDeadlineAfter(2, TimeUnit.SECONDS));
            CompletableFuture<Status> closed = new CompletableFuture<>();
            StreamObserver<byte[]> out = ClientCalls.asyncBidiStreamingCall(call, new StreamObserver<>() {
                @Override
                public void onNext(byte[] value) {
                }

                @Override
                public void onError(Throwable t) {
                    closed.complete(Status.fromThrowable(t));
                }

                @Override
                public void onCompleted() {
                    closed.complete(Status.OK);
                }
            });
            out.onNext(i % 3 == 0 ? mutate(seeds.get(0), random) : seeds.get(0));
            out.onNext(mutate(seeds.get(1 + random.nextInt(2)), random));
            out.onCompleted();
            Status status = closed.get(5, TimeUnit.SECONDS);
            assertThat(status.getCode()).as("worker stream #%d ended with %s (seed %d)", i, status, SEED)
                    .isNotIn((Object[]) FORBIDDEN);
        }
        RawWorker healthy = fixture.connectWorker("after-fuzz", 1, "fuzz.healthy");
        fixture.submit("fuzz.healthy", "{}");
        assertThat(healthy.take(1)).hasSize(1);
    }

    private static long jobs() {
        return fixture.queryLong("SELECT count(*) FROM jobs");
    }

}
