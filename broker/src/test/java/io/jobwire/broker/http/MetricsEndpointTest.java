package io.jobwire.broker.http;

import static io.jobwire.broker.testing.Slowness.scaled;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.ConcurrencyStrategy;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.client.JobwireClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The HTTP port: /metrics scraped by a real HTTP client while jobs move, /healthz and /readyz. */
class MetricsEndpointTest {
    private static final int HTTP_PORT = freePort();
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass(c -> c.httpPort(HTTP_PORT));
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + fixture.broker().httpPort() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** The value of one sample, by its name and labels as Prometheus prints them; -1 when absent. */
    private static double sample(String metrics, String nameAndLabels) {
        Matcher m = Pattern.compile("^" + Pattern.quote(nameAndLabels) + " ([0-9.eE+-]+)$", Pattern.MULTILINE).matcher(metrics);
        return m.find() ? Double.parseDouble(m.group(1)) : -1;
    }

    @Test
    void jobsCountedAsTheyMoveAndTheQueueGaugesFollow() throws Exception {
        JobwireClient client = fixture.client();
        String labels = "{queue=\"default\",type=\"m.moves\"}";
        try (RawWorker worker = fixture.connectWorker("metrics-worker", 4, "m.moves")) {
            for (int i = 0; i < 4; i++) {
                client.submit("m.moves", "{}");
            }
            client.cancel(client.submit(JobSpec.newBuilder().setType("m.moves").setDelay(
                    com.google.protobuf.Duration.newBuilder().setSeconds(3600)).build()).getJob().getId());
            java.util.List<AssignedJob> jobs = worker.take(4);
            worker.complete(jobs.get(0).getLease(), "{}");
            worker.complete(jobs.get(1).getLease(), "{}");
            worker.fail(jobs.get(2).getLease(), "again", true);
            worker.fail(jobs.get(3).getLease(), "never", false);

            HttpResponse<String> scraped = get("/metrics");
            assertThat(scraped.statusCode()).isEqualTo(200);
            assertThat(scraped.headers().firstValue("content-type").orElse("")).startsWith("text/plain");
            String metrics = scraped.body();
            assertThat(sample(metrics, "jobwire_jobs_submitted_total" + labels)).isEqualTo(5);
            assertThat(sample(metrics, "jobwire_jobs_started_total" + labels)).isEqualTo(4);
            assertThat(sample(metrics, "jobwire_jobs_succeeded_total" + labels)).isEqualTo(2);
            assertThat(sample(metrics, "jobwire_jobs_retried_total" + labels)).isEqualTo(1);
            assertThat(sample(metrics, "jobwire_jobs_failed_total" + labels)).isEqualTo(1);
            assertThat(sample(metrics, "jobwire_jobs_cancelled_total" + labels)).isEqualTo(1);
            assertThat(sample(metrics, "jobwire_job_run_seconds_count" + labels)).isEqualTo(4);
            assertThat(sample(metrics, "jobwire_job_wait_seconds_count" + labels)).isEqualTo(4);
            assertThat(metrics).contains("jobwire_job_wait_seconds_bucket{queue=\"default\",type=\"m.moves\",le=");
            assertThat(sample(metrics, "jobwire_grpc_server_calls_total{method=\"jobwire.v1.JobService/Submit\",status=\"OK\"}"))
                    .isGreaterThanOrEqualTo(5);
            assertThat(sample(metrics, "jobwire_grpc_server_calls_total{method=\"jobwire.v1.JobService/Get\",status=\"NOT_FOUND\"}"))
                    .isEqualTo(-1);
            assertThat(sample(metrics, "jobwire_worker_streams")).isEqualTo(1);
            assertThat(sample(metrics, "jobwire_group_commit_seconds_count{kind=\"completions\"}")).isGreaterThanOrEqualTo(1);
            assertThat(sample(metrics, "jobwire_group_commit_size_sum{kind=\"completions\"}")).isEqualTo(2);
            assertThat(metrics).contains("hikaricp_connections_active{pool=\"jobwire-db\"}").contains("jvm_memory_used_bytes{");
        }
        // A refused call is counted with its status; the queue gauges come from the maintained counts.
        try {
            client.get("999999999");
        } catch (RuntimeException expected) {
            // NOT_FOUND
        }
        client.submit("m.waiting", "{}");
        String waiting = "{queue=\"default\",type=\"m.waiting\"}";
        await().atMost(scaled(Duration.ofSeconds(30))).until(() -> sample(get("/metrics").body(), "jobwire_queue_depth" + waiting) == 1);
        String metrics = get("/metrics").body();
        assertThat(sample(metrics, "jobwire_queue_oldest_age_seconds" + waiting)).isGreaterThanOrEqualTo(0);
        assertThat(sample(metrics, "jobwire_grpc_server_calls_total{method=\"jobwire.v1.JobService/Get\",status=\"NOT_FOUND\"}"))
                .isEqualTo(1);
    }

    /** The broker's background passes are timed: how long the reaper and the ring take is there to see. */
    @Test
    void backgroundPassesAreTimed() {
        await().atMost(scaled(Duration.ofSeconds(30))).untilAsserted(() -> {
            String metrics = get("/metrics").body();
            for (String pass : new String[] {"reaper", "ring", "presence"}) {
                assertThat(sample(metrics, "jobwire_maintenance_pass_seconds_count{pass=\"" + pass + "\"}")).as(pass)
                        .isGreaterThanOrEqualTo(1);
                assertThat(sample(metrics, "jobwire_maintenance_pass_seconds_sum{pass=\"" + pass + "\"}")).as(pass)
                        .isGreaterThan(0);
            }
        });
    }

    /** A transaction held open on the broker's database shows as the age of the oldest transaction. */
    @Test
    void aTransactionHeldOpenShowsAsTheOldestTransactionsAge() throws Exception {
        try (java.sql.Connection pin = java.sql.DriverManager.getConnection(fixture.jdbcUrl())) {
            pin.setAutoCommit(false);
            pin.setTransactionIsolation(java.sql.Connection.TRANSACTION_REPEATABLE_READ);
            try (java.sql.Statement statement = pin.createStatement()) {
                statement.executeQuery("SELECT 1").close();
            }
            await().atMost(scaled(Duration.ofSeconds(60))).untilAsserted(() ->
                    assertThat(sample(get("/metrics").body(), "jobwire_database_oldest_transaction_age_seconds"))
                            .isGreaterThanOrEqualTo(1.0));
            pin.rollback();
        }
        await().atMost(scaled(Duration.ofSeconds(60))).untilAsserted(() ->
                assertThat(sample(get("/metrics").body(), "jobwire_database_oldest_transaction_age_seconds"))
                        .isLessThan(1.0));
    }

    /** Cancels the broker makes itself count as the Cancel call's do: a key's strategy, a failed dependency. */
    @Test
    void cancellationsTheBrokerMakesItselfAreCounted() {
        JobwireClient client = fixture.client();
        JobSpec keyed = JobSpec.newBuilder().setType("m.keyed").setConcurrencyKey("one").setConcurrencyLimit(1)
                .setConcurrencyStrategy(ConcurrencyStrategy.CONCURRENCY_STRATEGY_CANCEL_NEWEST).build();
        client.submit(keyed);
        String refused = client.submit(keyed).getJob().getId();
        String dependency = client.submit(JobSpec.newBuilder().setType("m.dependency")
                .setDelay(com.google.protobuf.Duration.newBuilder().setSeconds(3600)).build()).getJob().getId();
        String dependent = client.submit(JobSpec.newBuilder().setType("m.dependent").addDependsOn(dependency).build())
                .getJob().getId();
        client.cancel(dependency);

        await().atMost(scaled(Duration.ofSeconds(30))).until(() -> client.get(refused).getState() == JobState.JOB_STATE_CANCELLED
                && client.get(dependent).getState() == JobState.JOB_STATE_CANCELLED);
        await().atMost(scaled(Duration.ofSeconds(10))).untilAsserted(() -> {
            String metrics = get("/metrics").body();
            assertThat(sample(metrics, "jobwire_jobs_cancelled_total{queue=\"default\",type=\"m.keyed\"}"))
                    .as("cancel-newest").isEqualTo(1);
            assertThat(sample(metrics, "jobwire_jobs_cancelled_total{queue=\"default\",type=\"m.dependency\"}"))
                    .as("the Cancel call").isEqualTo(1);
            assertThat(sample(metrics, "jobwire_jobs_cancelled_total{queue=\"default\",type=\"m.dependent\"}"))
                    .as("its dependency was cancelled").isEqualTo(1);
        });
    }

    @Test
    void healthAndReadinessAnswerPlainly() throws Exception {
        HttpResponse<String> health = get("/healthz");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).isEqualTo("ok\n");
        HttpResponse<String> ready = get("/readyz");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(ready.body()).isEqualTo("ready\n");
        assertThat(get("/nothing").statusCode()).isEqualTo(404);
        HttpResponse<String> post = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + fixture.broker().httpPort() + "/metrics")).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isEqualTo(405);
    }
}
