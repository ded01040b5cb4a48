package io.jobwire.broker.tracing;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobState;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.client.JobwireClient;
import io.jobwire.worker.JobType;
import io.jobwire.worker.Worker;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * One trace from producer to handler: the producer's span, the broker's submit, claim and finish spans,
 * the worker SDK's process span and the handler's own span, all in one trace and each a child of the one
 * before; and with a broker that records nothing, the producer's context still reaches the handler.
 */
class TracingTest {
    private static OpenTelemetrySdk sdk(InMemorySpanExporter exporter) {
        return OpenTelemetrySdk.builder()
                .setTracerProvider(SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(exporter)).build())
                .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
                .build();
    }

    @Test
    void oneTraceRunsFromTheProducerThroughTheBrokerToTheHandler() throws Exception {
        InMemorySpanExporter brokerSpans = InMemorySpanExporter.create();
        InMemorySpanExporter appSpans = InMemorySpanExporter.create();
        try (OpenTelemetrySdk brokerOtel = sdk(brokerSpans); OpenTelemetrySdk appOtel = sdk(appSpans);
             BrokerFixture broker = BrokerFixture.start(c -> c, b -> b.openTelemetry(brokerOtel))) {
            String target = "127.0.0.1:" + broker.broker().port();
            Tracer app = appOtel.getTracer("test-app");
            try (JobwireClient producer = JobwireClient.builder().target(target).openTelemetry(appOtel).build();
                 Worker worker = Worker.builder().target(target).openTelemetry(appOtel).workerId("traced")
                         .handle(JobType.of("trace.me"), job -> {
                             Span inner = app.spanBuilder("render invoice").startSpan();
                             inner.end();
                             return "{\"ok\": true}";
                         }).start()) {
                Span checkout = app.spanBuilder("checkout").setSpanKind(SpanKind.SERVER).startSpan();
                String id;
                try (Scope scope = checkout.makeCurrent()) {
                    id = producer.submit("trace.me", "{}").getId();
                } finally {
                    checkout.end();
                }
                await().atMost(scaled(Duration.ofSeconds(30)))
                        .until(() -> producer.get(id).getState() == JobState.JOB_STATE_SUCCEEDED);
                await().atMost(scaled(Duration.ofSeconds(10))).until(() -> brokerSpans.getFinishedSpanItems().stream()
                        .anyMatch(s -> s.getName().equals("jobwire finish trace.me")));

                Map<String, SpanData> spans = new java.util.HashMap<>();
                for (SpanData span : brokerSpans.getFinishedSpanItems()) {
                    spans.put(span.getName(), span);
                }
                for (SpanData span : appSpans.getFinishedSpanItems()) {
                    spans.put(span.getName(), span);
                }
                SpanData root = spans.get("checkout");
                SpanData submit = spans.get("jobwire submit trace.me");
                SpanData claim = spans.get("jobwire claim trace.me");
                SpanData process = spans.get("jobwire process trace.me");
                SpanData inner = spans.get("render invoice");
                SpanData finish = spans.get("jobwire finish trace.me");
                assertThat(List.of(root, submit, claim, process, inner, finish)).doesNotContainNull();
                assertThat(List.of(submit, claim, process, inner, finish)).extracting(SpanData::getTraceId)
                        .containsOnly(root.getTraceId());
                assertThat(submit.getParentSpanId()).isEqualTo(root.getSpanId());
                assertThat(claim.getParentSpanId()).isEqualTo(submit.getSpanId());
                assertThat(process.getParentSpanId()).isEqualTo(claim.getSpanId());
                assertThat(inner.getParentSpanId()).isEqualTo(process.getSpanId());
                assertThat(finish.getParentSpanId()).isEqualTo(claim.getSpanId());
                assertThat(process.getKind()).isEqualTo(SpanKind.CONSUMER);
                assertThat(submit.getAttributes().asMap().toString()).contains("messaging.message.id=" + id);
                assertThat(finish.getAttributes().asMap().toString()).contains("jobwire.outcome=succeeded");
            }
        }
    }

    @Test
    void aBrokerThatRecordsNothingStillHandsTheProducersContextToTheWorker() {
        InMemorySpanExporter appSpans = InMemorySpanExporter.create();
        try (OpenTelemetrySdk appOtel = sdk(appSpans); BrokerFixture broker = BrokerFixture.start();
             JobwireClient producer = JobwireClient.builder().target("127.0.0.1:" + broker.broker().port())
                     .openTelemetry(appOtel).build()) {
            Span span = appOtel.getTracer("test-app").spanBuilder("producer").startSpan();
            try (Scope scope = span.makeCurrent()) {
                producer.submit("trace.plain", "{}");
            } finally {
                span.end();
            }
            producer.submit("trace.plain", "{}"); // outside any span
            try (RawWorker worker = broker.connectWorker("raw", 2, "trace.plain")) {
                List<io.jobwire.api.v1.AssignedJob> jobs = worker.take(2);
                Map<Boolean, List<String>> byTraced = jobs.stream().collect(Collectors.partitioningBy(
                        j -> !j.getTraceParent().isEmpty(), Collectors.mapping(j -> j.getTraceParent(), Collectors.toList())));
                assertThat(byTraced.get(true)).singleElement().asString().startsWith("00-"
                        + span.getSpanContext().getTraceId() + "-" + span.getSpanContext().getSpanId() + "-");
                assertThat(byTraced.get(false)).hasSize(1);
            }
        }
    }

    @Test
    void malformedTraceContextsAreIgnored() {
        assertThat(Tracing.valid("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "a=b").traceState()).isEqualTo("a=b");
        assertThat(Tracing.valid("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "x".repeat(600)).traceState()).isNull();
        assertThat(Tracing.valid("zz-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", null).isEmpty()).isTrue();
        assertThat(Tracing.valid("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", null).isEmpty()).isTrue();
        assertThat(Tracing.valid("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", null).isEmpty()).isTrue();
        assertThat(Tracing.valid(null, "a=b").isEmpty()).isTrue();
    }
}
