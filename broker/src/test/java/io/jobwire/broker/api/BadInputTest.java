package io.jobwire.broker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.HoldRequest;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.ListResponse;
import io.jobwire.api.v1.ReleaseRequest;
import io.jobwire.api.v1.RetryPolicy;
import io.jobwire.api.v1.RetryRequest;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.SubmitBatchRequest;
import io.jobwire.api.v1.SubmitRequest;
import io.jobwire.api.v1.WatchEvent;
import io.jobwire.api.v1.WatchFilter;
import io.jobwire.api.v1.WatchRequest;
import io.jobwire.broker.testing.BrokerFixture;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Bad input gets a canonical status and a message naming the field, and writes nothing. */
class BadInputTest {
    private static final int PAYLOAD_LIMIT = 4096;
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass(c -> c.maxPayloadBytes(PAYLOAD_LIMIT));

    private static JobSpec.Builder valid() {
        return JobSpec.newBuilder().setType("bad.input").setPayload("{\"ok\":true}");
    }

    static Stream<Arguments> badSpecs() {
        return Stream.of(
                bad("empty type", s -> s.setType(""), Status.Code.INVALID_ARGUMENT, "job.type"),
                bad("type with a space", s -> s.setType("email send"), Status.Code.INVALID_ARGUMENT, "job.type"),
                bad("type starting with -", s -> s.setType("-email"), Status.Code.INVALID_ARGUMENT, "job.type"),
                bad("type of 129 characters", s -> s.setType("t".repeat(129)), Status.Code.INVALID_ARGUMENT, "job.type"),
                bad("non-ASCII type", s -> s.setType("émail"), Status.Code.INVALID_ARGUMENT, "job.type"),
                bad("malformed queue", s -> s.setQueue("a queue"), Status.Code.INVALID_ARGUMENT, "job.queue"),
                bad("truncated JSON", s -> s.setPayload("{\"a\":"), Status.Code.INVALID_ARGUMENT, "job.payload"),
                bad("trailing garbage", s -> s.setPayload("{} x"), Status.Code.INVALID_ARGUMENT, "job.payload"),
                bad("bare word", s -> s.setPayload("hello"), Status.Code.INVALID_ARGUMENT, "job.payload"),
                bad("payload over the limit", s -> s.setPayload("\"" + "x".repeat(PAYLOAD_LIMIT) + "\""),
                        Status.Code.RESOURCE_EXHAUSTED, "job.payload"),
                bad("raw NUL in the payload", s -> s.setPayload("{\"a\":\"x\u0000y\"}"), Status.Code.INVALID_ARGUMENT, "job.payload"),
                bad("escaped NUL in the payload", s -> s.setPayload("{\"a\":\"x\\u0000y\"}"), Status.Code.INVALID_ARGUMENT, "job.payload"),
                bad("unpaired surrogate escape", s -> s.setPayload("{\"a\":\"\\ud800\"}"), Status.Code.INVALID_ARGUMENT, "job.payload"),
                bad("NUL in the idempotency key", s -> s.setIdempotencyKey("k\u0000"), Status.Code.INVALID_ARGUMENT, "job.idempotency_key"),
                bad("NUL in a label value", s -> s.putLabels("team", "a\u0000b"), Status.Code.INVALID_ARGUMENT, "job.labels"),
                bad("bad label key", s -> s.putLabels("bad key", "v"), Status.Code.INVALID_ARGUMENT, "job.labels"),
                bad("65 labels", s -> {
                    IntStream.range(0, 65).forEach(i -> s.putLabels("k" + i, "v"));
                    return s;
                }, Status.Code.INVALID_ARGUMENT, "job.labels"),
                bad("priority -1001", s -> s.setPriority(-1001), Status.Code.INVALID_ARGUMENT, "job.priority"),
                bad("priority 1001", s -> s.setPriority(1001), Status.Code.INVALID_ARGUMENT, "job.priority"),
                bad("max_attempts -1", s -> s.setMaxAttempts(-1), Status.Code.INVALID_ARGUMENT, "job.max_attempts"),
                bad("max_attempts 1001", s -> s.setMaxAttempts(1001), Status.Code.INVALID_ARGUMENT, "job.max_attempts"),
                bad("lease of half a second", s -> s.setLeaseDuration(Duration.newBuilder().setNanos(500_000_000)),
                        Status.Code.INVALID_ARGUMENT, "job.lease_duration"),
                bad("lease of 25 hours", s -> s.setLeaseDuration(Duration.newBuilder().setSeconds(25 * 3600)),
                        Status.Code.INVALID_ARGUMENT, "job.lease_duration"),
                bad("negative lease", s -> s.setLeaseDuration(Duration.newBuilder().setSeconds(-5)),
                        Status.Code.INVALID_ARGUMENT, "job.lease_duration"),
                bad("negative delay", s -> s.setDelay(Duration.newBuilder().setSeconds(-1)), Status.Code.INVALID_ARGUMENT, "job.delay"),
                bad("delay over 366 days", s -> s.setDelay(Duration.newBuilder().setSeconds(367L * 86400)),
                        Status.Code.INVALID_ARGUMENT, "job.delay"),
                bad("run_at out of range", s -> s.setRunAt(Timestamp.newBuilder().setSeconds(-100)),
                        Status.Code.INVALID_ARGUMENT, "job.run_at"),
                bad("retry max below initial", s -> s.setRetryPolicy(RetryPolicy.newBuilder()
                        .setInitialDelay(Duration.newBuilder().setSeconds(10)).setMaxDelay(Duration.newBuilder().setSeconds(5))),
                        Status.Code.INVALID_ARGUMENT, "job.retry_policy.max_delay"),
                bad("malformed owner", s -> s.setOwner("some one"), Status.Code.INVALID_ARGUMENT, "job.owner"));
    }

    private static Arguments bad(String name, UnaryOperator<JobSpec.Builder> change, Status.Code code, String field) {
        return Arguments.of(name, change.apply(valid()).build(), code, field);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badSpecs")
    void badSubmitIsRefusedAndWritesNothing(String name, JobSpec spec, Status.Code code, String field) {
        long before = jobCount();
        assertRefused(() -> fixture.jobs().submit(SubmitRequest.newBuilder().setJob(spec).build()), code, field);
        assertThat(jobCount()).isEqualTo(before);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badSpecs")
    void oneBadJobRefusesTheWholeBatch(String name, JobSpec spec, Status.Code code, String field) {
        long before = jobCount();
        SubmitBatchRequest batch = SubmitBatchRequest.newBuilder()
                .addJobs(valid()).addJobs(valid()).addJobs(spec).addJobs(valid()).build();
        assertRefused(() -> fixture.jobs().submitBatch(batch), code, field.replace("job.", "jobs[2]."));
        assertThat(jobCount()).isEqualTo(before);
    }

    @Test
    void payloadExactlyAtTheLimitIsAccepted() {
        String payload = "\"" + "x".repeat(PAYLOAD_LIMIT - 2) + "\"";
        assertThat(fixture.jobs().submit(SubmitRequest.newBuilder().setJob(valid().setPayload(payload)).build())
                .getCreated()).isTrue();
    }

    @Test
    void submitWithoutAJobIsRefused() {
        assertRefused(() -> fixture.jobs().submit(SubmitRequest.getDefaultInstance()), Status.Code.INVALID_ARGUMENT, "job");
    }

    @Test
    void batchSizeIsBounded() {
        long before = jobCount();
        assertRefused(() -> fixture.jobs().submitBatch(SubmitBatchRequest.getDefaultInstance()),
                Status.Code.INVALID_ARGUMENT, "jobs");
        SubmitBatchRequest.Builder tooMany = SubmitBatchRequest.newBuilder();
        IntStream.range(0, 1001).forEach(i -> tooMany.addJobs(JobSpec.newBuilder().setType("bad.many")));
        assertRefused(() -> fixture.jobs().submitBatch(tooMany.build()), Status.Code.INVALID_ARGUMENT, "jobs");
        assertThat(jobCount()).isEqualTo(before);
    }

    @Test
    void malformedIdsAreInvalidAndUnknownIdsNotFound() {
        for (String id : List.of("", "abc", "-5", "0", "99999999999999999999")) {
            assertRefused(() -> fixture.jobs().get(GetRequest.newBuilder().setId(id).build()), Status.Code.INVALID_ARGUMENT, "id");
            assertRefused(() -> fixture.jobs().cancel(CancelRequest.newBuilder().setId(id).build()), Status.Code.INVALID_ARGUMENT, "id");
            assertRefused(() -> fixture.jobs().retry(RetryRequest.newBuilder().setId(id).build()), Status.Code.INVALID_ARGUMENT, "id");
            assertRefused(() -> fixture.jobs().hold(HoldRequest.newBuilder().setId(id).build()), Status.Code.INVALID_ARGUMENT, "id");
            assertRefused(() -> fixture.jobs().release(ReleaseRequest.newBuilder().setId(id).build()), Status.Code.INVALID_ARGUMENT, "id");
        }
        assertRefused(() -> fixture.jobs().get(GetRequest.newBuilder().setId("77777777").build()), Status.Code.NOT_FOUND, "77777777");
    }

    @Test
    void badListRequestsAreRefused() {
        assertRefused(() -> fixture.jobs().list(ListRequest.newBuilder().setPageSize(1001).build()),
                Status.Code.INVALID_ARGUMENT, "page_size");
        assertRefused(() -> fixture.jobs().list(ListRequest.newBuilder().setPageToken("garbage!").build()),
                Status.Code.INVALID_ARGUMENT, "page_token");
        assertRefused(() -> fixture.jobs().list(ListRequest.newBuilder().setPayloadContains("[1]").build()),
                Status.Code.INVALID_ARGUMENT, "payload_contains");
        assertRefused(() -> fixture.jobs().list(ListRequest.newBuilder().addStates(JobState.JOB_STATE_UNSPECIFIED).build()),
                Status.Code.INVALID_ARGUMENT, "states[0]");
        assertRefused(() -> fixture.jobs().stats(StatsRequest.newBuilder().setType("no good").build()),
                Status.Code.INVALID_ARGUMENT, "type");
    }

    @Test
    void badWatchRequestsAreRefused() {
        String id = fixture.submit("bad.watch", "{}");
        assertRefused(() -> first(WatchRequest.newBuilder().addIds(id).setFilter(WatchFilter.getDefaultInstance()).build()),
                Status.Code.INVALID_ARGUMENT, "ids");
        assertRefused(() -> first(WatchRequest.getDefaultInstance()), Status.Code.INVALID_ARGUMENT, "ids");
        assertRefused(() -> first(WatchRequest.newBuilder().addIds("88888888").build()), Status.Code.NOT_FOUND, "88888888");
        assertRefused(() -> first(WatchRequest.newBuilder().setFilter(WatchFilter.newBuilder().addTypes("a b")).build()),
                Status.Code.INVALID_ARGUMENT, "filter.types[0]");
    }

    private static WatchEvent first(WatchRequest request) {
        Iterator<WatchEvent> events = fixture.jobs().watch(request);
        return events.next();
    }

    @Test
    void listPagesThroughEveryJobNewestFirst() {
        String type = "bad.paging";
        List<String> submitted = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            submitted.add(fixture.submit(JobSpec.newBuilder().setType(type).setQueue(i % 2 == 0 ? "even" : "odd")
                    .setOwner(i < 5 ? "alice" : "bob").putLabels("n", Integer.toString(i))
                    .setPayload("{\"n\":" + i + "}").build()));
        }
        List<String> seen = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        String token = "";
        do {
            ListResponse page = fixture.jobs().list(ListRequest.newBuilder().setType(type).setPageSize(10).setPageToken(token).build());
            sizes.add(page.getJobsCount());
            page.getJobsList().forEach(job -> seen.add(job.getId()));
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        assertThat(sizes).containsExactly(10, 10, 5);
        Set<String> unique = new HashSet<>(seen);
        assertThat(unique).hasSize(25);
        List<String> newestFirst = new ArrayList<>(submitted);
        java.util.Collections.reverse(newestFirst);
        assertThat(seen).isEqualTo(newestFirst);

        // oldest first, across live and finished jobs alike
        fixture.jobs().cancel(io.jobwire.api.v1.CancelRequest.newBuilder().setId(submitted.get(3)).build());
        fixture.jobs().cancel(io.jobwire.api.v1.CancelRequest.newBuilder().setId(submitted.get(20)).build());
        List<String> oldest = new ArrayList<>();
        token = "";
        do {
            ListResponse page = fixture.jobs().list(ListRequest.newBuilder().setType(type).setOldestFirst(true)
                    .setPageSize(7).setPageToken(token).build());
            page.getJobsList().forEach(job -> oldest.add(job.getId()));
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        assertThat(oldest).isEqualTo(submitted);

        assertThat(list(ListRequest.newBuilder().setType(type).setQueue("even"))).hasSize(13);
        assertThat(list(ListRequest.newBuilder().setType(type).setOwner("alice"))).hasSize(5);
        assertThat(list(ListRequest.newBuilder().setType(type).putLabels("n", "7"))).containsExactly(submitted.get(7));
        assertThat(list(ListRequest.newBuilder().setType(type).setPayloadContains("{\"n\":11}"))).containsExactly(submitted.get(11));
        assertThat(list(ListRequest.newBuilder().setType(type).addStates(JobState.JOB_STATE_RUNNING))).isEmpty();
    }

    private static List<String> list(ListRequest.Builder request) {
        return fixture.jobs().list(request.setPageSize(100).build()).getJobsList().stream().map(j -> j.getId()).toList();
    }

    private static long jobCount() {
        return fixture.queryLong("SELECT count(*) FROM jobs");
    }

    private static void assertRefused(Runnable call, Status.Code code, String mentioned) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(code);
            assertThat(e.getStatus().getDescription()).contains(mentioned);
        });
    }
}
