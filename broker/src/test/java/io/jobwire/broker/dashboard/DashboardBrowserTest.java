package io.jobwire.broker.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.api.v1.AssignedJob;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobSpec;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.WorkerServiceGrpc;
import io.jobwire.broker.auth.Role;
import io.jobwire.broker.auth.TokenStore;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.RawWorker;
import io.jobwire.client.BrokerConnection;
import io.jobwire.client.JobwireClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.Cookie;
import org.openqa.selenium.WebElement;

/**
 * The dashboard in a real headless Chromium against a real broker with tokens: log in, filter, watch a job's
 * progress move without reloading, cancel from the page, hostile job fields stay inert, a POST without the
 * CSRF token is refused, and another owner's job cannot be reached by its address.
 */
class DashboardBrowserTest {
    private static final String SHOP = TokenStore.newToken();
    private static final String BILLING = TokenStore.newToken();
    private static final String OPS = TokenStore.newToken();
    private static final String WORKER = TokenStore.newToken();
    private static final int HTTP_PORT = freePort();
    @RegisterExtension
    static final BrokerFixture fixture = BrokerFixture.perClass(c -> c.httpPort(HTTP_PORT).tokens(String.join("\n",
            TokenStore.line(SHOP, "shop", List.of(Role.SUBMIT), List.of()),
            TokenStore.line(BILLING, "billing", List.of(Role.SUBMIT), List.of()),
            TokenStore.line(OPS, "ops", List.of(Role.ADMIN), List.of()),
            TokenStore.line(WORKER, "runner", List.of(Role.WORK), List.of()))));
    private static Browser browser;
    private static JobwireClient shop;
    private static JobwireClient billing;

    @BeforeAll
    static void start() {
        browser = new Browser();
        shop = client(SHOP);
        billing = client(BILLING);
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.close();
        }
        shop.close();
        billing.close();
    }

    @BeforeEach
    void loggedOut() {
        browser.open(url("/static/dashboard.css")); // cookies can only be cleared on the site
        browser.driver.manage().deleteAllCookies();
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JobwireClient client(String token) {
        return JobwireClient.builder().target("127.0.0.1:" + fixture.broker().port()).token(token).build();
    }

    private static String url(String path) {
        return "http://127.0.0.1:" + fixture.broker().httpPort() + path;
    }

    private static RawWorker worker(String type) {
        WorkerServiceGrpc.WorkerServiceStub stub = fixture.workerStub().withCallCredentials(BrokerConnection.bearer(WORKER));
        return RawWorker.connect(stub, "w-" + type, 4, type);
    }

    private static void logIn(String token, String path) {
        browser.open(url(path));
        browser.await(d -> d.getCurrentUrl().contains("/login"));
        browser.find("#token").sendKeys(token);
        browser.find("#login").click();
        browser.await(d -> !d.getCurrentUrl().contains("/login"));
    }

    private static List<String> listedIds() {
        return browser.all("table.jobs tbody td:first-child a").stream().map(WebElement::getText).toList();
    }

    @Test
    void loggingInLeadsBackAndTheJobsPageFilters() {
        String failing = shop.submit(JobSpec.newBuilder().setType("web.filter").setPayload("{\"customer\": \"c-7\"}")
                .putLabels("tier", "gold").build()).getJob().getId();
        String other = shop.submit("web.filter", "{\"customer\": \"c-8\"}").getId();
        String otherType = shop.submit("web.other", "{}").getId();

        browser.open(url("/jobs?type=web.filter"));
        assertThat(browser.driver.getCurrentUrl()).contains("/login");
        browser.find("#token").sendKeys("jw_not-a-token");
        browser.find("#login").click();
        assertThat(browser.find("[role=alert]").getText()).contains("not a valid broker token");

        browser.find("#token").sendKeys(SHOP);
        browser.find("#login").click();
        browser.await(d -> d.getCurrentUrl().endsWith("/jobs?type=web.filter"));
        assertThat(browser.find("#who").getText()).isEqualTo("shop");
        assertThat(listedIds()).contains(failing, other).doesNotContain(otherType);

        browser.find("input[name=payload]").sendKeys("{\"customer\": \"c-7\"}");
        browser.find("form.filters button").click();
        browser.await(d -> d.getCurrentUrl().contains("payload="));
        assertThat(listedIds()).containsExactly(failing);

        browser.open(url("/jobs?label=tier%3Dgold"));
        assertThat(listedIds()).containsExactly(failing);
        browser.open(url("/jobs?state=SUCCEEDED&type=web.filter"));
        assertThat(listedIds()).isEmpty();
        browser.open(url("/jobs?state=NOPE"));
        assertThat(browser.find("[role=alert]").getText()).contains("state: one of");
    }

    @Test
    void aJobsPageShowsItsProgressMovingWhileTheWorkerRuns() {
        String id = shop.submit("web.progress", "{}").getId();
        try (RawWorker worker = worker("web.progress")) {
            AssignedJob job = worker.take(1).get(0);
            logIn(SHOP, "/jobs/" + id);
            assertThat(browser.find(".state .badge").getText()).isEqualTo("RUNNING");
            browser.script("window.notReloaded = true;");

            worker.progress(job.getLease(), 10, "step one", "{\"done\": 1, \"of\": 10}");
            browser.await(d -> browser.all("#percent").stream().anyMatch(e -> e.getText().equals("10%")));
            assertThat(browser.find("#progress-message").getText()).isEqualTo("step one");
            worker.progress(job.getLease(), 60, "step six", "{\"done\": 6, \"of\": 10}");
            browser.await(d -> browser.all("#percent").stream().anyMatch(e -> e.getText().equals("60%")));
            assertThat(browser.find("#progress").getAttribute("value")).isEqualTo("60");
            assertThat(browser.find("#progress-details").getText()).contains("\"done\" : 6");

            worker.complete(job.getLease(), "{\"sent\": true}");
            browser.await(d -> browser.find(".state .badge").getText().equals("SUCCEEDED"));
            assertThat(browser.find("#result").getText()).contains("\"sent\" : true");
            assertThat(browser.script("return window.notReloaded === true;")).isEqualTo(true);
        }
    }

    @Test
    void cancellingFromThePageCancelsTheJob() {
        String id = shop.submit("web.cancel", "{}").getId();
        logIn(SHOP, "/jobs/" + id);
        browser.find("#cancel").click();
        browser.await(d -> d.getCurrentUrl().contains("done=cancel"));
        assertThat(browser.find(".notice").getText()).isEqualTo("Cancelled.");
        assertThat(browser.find(".state .badge").getText()).isEqualTo("CANCELLED");
        Job job = shop.get(id);
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
        assertThat(job.getLastError()).contains("dashboard").contains("shop");

        browser.find("#retry").click();
        browser.await(d -> d.getCurrentUrl().contains("done=retry"));
        assertThat(shop.get(id).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
    }

    @Test
    void everyJobMatchingAFilterIsCancelledAfterACountAndAConfirmation() {
        List<String> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ids.add(shop.submit(JobSpec.newBuilder().setType("web.bulk").setPayload("{}").putLabels("batch", "b1").build())
                    .getJob().getId());
        }
        String spared = shop.submit(JobSpec.newBuilder().setType("web.bulk").setPayload("{}").putLabels("batch", "b2").build())
                .getJob().getId();
        logIn(SHOP, "/jobs?type=web.bulk&label=batch%3Db1");
        browser.find("form.bulk select[name=action]").sendKeys("cancel");
        browser.find("#bulk").click();
        browser.await(d -> !browser.all("#count").isEmpty());
        assertThat(browser.find("#count").getText()).startsWith("3 jobs match");
        for (String id : ids) {
            assertThat(shop.get(id).getState()).isEqualTo(JobState.JOB_STATE_QUEUED); // nothing before the confirmation
        }
        browser.find("#confirm").click();
        browser.await(d -> !browser.all("#outcome").isEmpty());
        assertThat(browser.find("#outcome").getText()).startsWith("Cancelled 3 jobs");
        for (String id : ids) {
            assertThat(shop.get(id).getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
        }
        assertThat(shop.get(spared).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
    }

    @Test
    void hostileJobFieldsRenderAsInertText() {
        String hostile = "<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">";
        String payload = "{\"name\": \"" + hostile.replace("\"", "\\\"") + "\"}";
        String id = shop.submit(JobSpec.newBuilder().setType("web.xss").setPayload(payload)
                .putLabels("note", hostile).build()).getJob().getId();
        try (RawWorker worker = worker("web.xss")) {
            AssignedJob job = worker.take(1).get(0);
            worker.progress(job.getLease(), 50, hostile, "{\"x\": \"" + hostile.replace("\"", "\\\"") + "\"}");
            logIn(SHOP, "/jobs/" + id);
            browser.await(d -> !browser.all("#progress-message").isEmpty());
            assertThat(browser.find("#progress-message").getText()).isEqualTo(hostile);
            assertThat(browser.find("#payload").getText()).contains("<script>window.pwned = 1</script>");
            worker.fail(job.getLease(), hostile, false);
            browser.await(d -> !browser.all("#last-error").isEmpty());
            assertThat(browser.find("#last-error").getText()).isEqualTo(hostile);
            browser.open(url("/jobs?type=web.xss"));
            assertThat(browser.find("table.jobs").getText()).contains(hostile);
            assertThat(browser.all("main script, main img")).isEmpty();
            assertThat(browser.script("return typeof window.pwned;")).isEqualTo("undefined");
        }
    }

    @Test
    void aPostWithoutTheCsrfTokenIsRefusedAndChangesNothing() throws Exception {
        String id = shop.submit("web.csrf", "{}").getId();
        logIn(SHOP, "/jobs/" + id);
        Cookie session = browser.driver.manage().getCookieNamed(Dashboard.COOKIE);
        assertThat(session.isHttpOnly()).isTrue();
        assertThat(session.getSameSite()).isEqualTo("Strict");
        String csrf = browser.find("input[name=csrf]").getAttribute("value");

        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> noToken = http.send(post("/jobs/" + id + "/cancel", session, "").build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(noToken.statusCode()).isEqualTo(403);
        HttpResponse<String> wrongToken = http.send(post("/jobs/" + id + "/cancel", session, "csrf=" + csrf + "x").build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(wrongToken.statusCode()).isEqualTo(403);
        HttpResponse<String> otherSite = http.send(post("/jobs/" + id + "/cancel", session, "csrf=" + csrf)
                .header("Origin", "http://evil.example").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(otherSite.statusCode()).isEqualTo(403);
        assertThat(shop.get(id).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);

        HttpResponse<String> withToken = http.send(post("/jobs/" + id + "/hold", session, "csrf=" + csrf).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(withToken.statusCode()).isEqualTo(303);
        assertThat(shop.get(id).getState()).isEqualTo(JobState.JOB_STATE_HELD);
    }

    @Test
    void theSchedulesPageShowsEachScheduleWithItsNextFiresToItsOwnerOnly() {
        shop.createSchedule(io.jobwire.api.v1.CreateScheduleRequest.newBuilder().setName("nightly-report")
                .setCron("0 3 * * *").setZone("Europe/Berlin")
                .setJob(JobSpec.newBuilder().setType("web.report")).build());
        billing.createSchedule(io.jobwire.api.v1.CreateScheduleRequest.newBuilder().setName("billing-run")
                .setEvery(com.google.protobuf.Duration.newBuilder().setSeconds(3600))
                .setJob(JobSpec.newBuilder().setType("web.billing")).build());
        logIn(SHOP, "/schedules");
        String table = browser.find("#schedules").getText();
        assertThat(table).contains("nightly-report").contains("0 3 * * * (Europe/Berlin)").contains("web.report")
                .containsPattern("\\d{4}-\\d\\d-\\d\\d 0[12]:00:00Z").doesNotContain("billing-run");
        browser.find("#logout").click();
        browser.await(d -> d.getCurrentUrl().contains("/login"));
        logIn(OPS, "/schedules");
        assertThat(browser.find("#schedules").getText()).contains("nightly-report").contains("billing-run")
                .contains("every 60 min");
    }

    private static HttpRequest.Builder post(String path, Cookie session, String form) {
        return HttpRequest.newBuilder(URI.create(url(path)))
                .header("Cookie", session.getName() + "=" + session.getValue())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form));
    }

    @Test
    void anotherOwnersJobCannotBeReachedByItsAddress() throws Exception {
        String shops = shop.submit("web.owner", "{\"secret\": \"shop-only\"}").getId();
        String billings = billing.submit("web.owner", "{}").getId();
        logIn(BILLING, "/jobs/" + shops);
        assertThat(browser.find("h1").getText()).isEqualTo("Not found");
        assertThat(browser.driver.getPageSource()).doesNotContain("shop-only");
        browser.open(url("/jobs?type=web.owner"));
        assertThat(listedIds()).containsExactly(billings);
        browser.open(url("/jobs?type=web.owner&owner=shop"));
        assertThat(browser.find("[role=alert]").getText()).doesNotContain(shops);
        assertThat(listedIds()).isEmpty();

        Cookie session = browser.driver.manage().getCookieNamed(Dashboard.COOKIE);
        String csrf = browser.find("input[name=csrf]").getAttribute("value");
        HttpResponse<String> cancel = HttpClient.newHttpClient().send(post("/jobs/" + shops + "/cancel", session,
                "csrf=" + csrf).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(cancel.statusCode()).isEqualTo(404);
        assertThat(shop.get(shops).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);

        browser.find("#logout").click();
        browser.await(d -> d.getCurrentUrl().contains("/login"));
        logIn(OPS, "/jobs/" + shops);
        assertThat(browser.find("#payload").getText()).contains("shop-only");
    }
}
