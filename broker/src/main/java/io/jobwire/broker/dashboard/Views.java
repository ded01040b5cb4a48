package io.jobwire.broker.dashboard;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jobwire.broker.dashboard.Sessions.Account;
import io.jobwire.api.v1.Attempt;
import io.jobwire.api.v1.CallbackAttempt;
import io.jobwire.api.v1.CallbackDelivery;
import io.jobwire.api.v1.GetJobTypeRequest;
import io.jobwire.api.v1.GetRequest;
import io.jobwire.api.v1.Job;
import io.jobwire.api.v1.JobServiceGrpc.JobServiceBlockingStub;
import io.jobwire.api.v1.JobState;
import io.jobwire.api.v1.JobTypeInfo;
import io.jobwire.api.v1.JobTypeRegistration;
import io.jobwire.api.v1.ListJobTypesRequest;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.ListResponse;
import io.jobwire.api.v1.QueueStats;
import io.jobwire.api.v1.StatsRequest;
import io.jobwire.api.v1.StatsResponse;
import io.jobwire.api.v1.WorkerInfo;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The dashboard's pages, rendered on the server from the broker's own JobService (called in process as the
 * logged-in account, so a page shows exactly what the API would show that account). Every page that changes
 * has a live part, re-rendered by {@link Live} and swapped in by the browser.
 */
final class Views {
    static final List<String> STATES = List.of("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "HELD", "WAITING");
    static final List<String> FILTERS = List.of("state", "type", "queue", "owner", "label", "payload", "order");
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'", Locale.ROOT)
            .withZone(ZoneOffset.UTC);
    private static final int LIST_TEXT = 80;

    /** What a page is rendered for: the account and the session's CSRF token (for its forms). */
    record Viewer(Account account, String csrf) {
    }

    /** A whole page's title and body (the layout is added around it). */
    record Page(String title, Html body) {
    }

    private final Function<Account, JobServiceBlockingStub> stubs;
    private final Timeline timeline;
    private final Clock clock;

    Views(Function<Account, JobServiceBlockingStub> stubs, Timeline timeline, Clock clock) {
        this.stubs = stubs;
        this.timeline = timeline;
        this.clock = clock;
    }

    JobServiceBlockingStub api(Viewer viewer) {
        return stubs.apply(viewer.account());
    }

    static boolean hasLive(String path) {
        return path.equals("/") || path.equals("/jobs") || path.equals("/workers")
                || (path.startsWith("/jobs/") && path.length() > 6 && path.indexOf('/', 6) < 0);
    }

    /** The live part of the page at this address, or null when the page has none. */
    Html live(Viewer viewer, String path, Map<String, String> query) {
        if (path.equals("/")) {
            return overviewLive(viewer);
        }
        if (path.equals("/jobs")) {
            return jobsLive(viewer, query);
        }
        if (path.equals("/workers")) {
            return workersLive(viewer);
        }
        if (path.startsWith("/jobs/") && path.indexOf('/', 6) < 0) {
            return jobLive(viewer, path.substring(6));
        }
        return null;
    }

    private static Html liveBlock(String path, Map<String, String> query, Html content) {
        return new Html().tag("<div id=\"live\" data-live=\"")
                .attr(Html.link("/live", Map.of("view", Html.link(path, query)))).tag("\">").append(content).tag("</div>");
    }

    // ---------------------------------------------------------------- overview

    Page overview(Viewer viewer) {
        return new Page("Overview", new Html().tag("<h1>Overview</h1>").append(liveBlock("/", Map.of(), overviewLive(viewer))));
    }

    private Html overviewLive(Viewer viewer) {
        StatsResponse stats = api(viewer).stats(StatsRequest.getDefaultInstance());
        Account account = viewer.account();
        List<Timeline.Sample> samples = timeline.samples(account.admin() ? null : account.name());
        Instant now = clock.instant();
        Html h = new Html();
        int capacity = 0;
        for (WorkerInfo w : stats.getWorkersList()) {
            capacity += w.getFreeCapacity();
        }
        h.tag("<p class=\"summary\"><a href=\"/workers\">").text(stats.getWorkersCount())
                .tag(stats.getWorkersCount() == 1 ? " worker stream" : " worker streams").tag("</a> online, ")
                .text(capacity).tag(" free slots. Counts taken ").text(time(stats.getTakenAt())).tag(".</p>");
        h.tag("<div class=\"charts\">")
                .append(Charts.chart("Jobs finished per minute", now, 480, 140, List.of("succeeded", "failed", "cancelled"),
                        List.of(Timeline.ratePerMinute(samples, null, Timeline.Counts::succeeded),
                                Timeline.ratePerMinute(samples, null, Timeline.Counts::failed),
                                Timeline.ratePerMinute(samples, null, Timeline.Counts::cancelled))))
                .append(Charts.chart("Waiting and running", now, 480, 140, List.of("queued", "running"),
                        List.of(Timeline.level(samples, null, Timeline.Counts::queued),
                                Timeline.level(samples, null, Timeline.Counts::running))))
                .tag("</div>");
        if (!samples.isEmpty() && samples.get(0).at().isAfter(now.minus(Timeline.WINDOW).plus(Timeline.STEP))) {
            h.tag("<p class=\"note\">Charts since ").text(TIME.format(samples.get(0).at()))
                    .tag(account.admin() ? " (this broker's start; it samples every " : " (your first look; this broker samples every ")
                    .text(Timeline.STEP.toSeconds()).tag(" s).</p>");
        }
        h.tag("<table class=\"grid\"><thead><tr><th>type</th><th>queue</th><th>queued</th><th>oldest waiting</th>"
                + "<th>running</th><th>held</th><th>waiting</th><th>succeeded</th><th>failed</th><th>cancelled</th>"
                + "<th>finished/min, last hour</th></tr></thead><tbody>");
        if (stats.getQueuesCount() == 0) {
            h.tag("<tr><td colspan=\"11\" class=\"empty\">No jobs yet. Submit one: <code>jobwire submit "
                    + "--type hello --payload '{}'</code></td></tr>");
        }
        for (QueueStats q : stats.getQueuesList()) {
            Map<String, String> f = new LinkedHashMap<>();
            f.put("type", q.getType());
            f.put("queue", q.getQueue());
            h.tag("<tr><td><a href=\"").href("/types/" + Html.encode(q.getType()), Map.of()).tag("\">").text(q.getType())
                    .tag("</a></td><td>").text(q.getQueue()).tag("</td>");
            count(h, q.getQueued(), f, "QUEUED");
            h.tag("<td>").text(q.getQueued() == 0 ? "" : duration(q.getOldestQueuedAge())).tag("</td>");
            count(h, q.getRunning(), f, "RUNNING");
            count(h, q.getHeld(), f, "HELD");
            count(h, q.getWaiting(), f, "WAITING");
            count(h, q.getSucceeded(), f, "SUCCEEDED");
            count(h, q.getFailed(), f, "FAILED");
            count(h, q.getCancelled(), f, "CANCELLED");
            h.tag("<td>").append(Charts.sparkline(Timeline.ratePerMinute(samples,
                    Timeline.Sample.key(q.getType(), q.getQueue()), Timeline.Counts::finished), now)).tag("</td></tr>");
        }
        return h.tag("</tbody></table>");
    }

    private static void count(Html h, long n, Map<String, String> filter, String state) {
        Map<String, String> q = new LinkedHashMap<>(filter);
        q.put("state", state);
        h.tag("<td class=\"n\">");
        if (n == 0) {
            h.tag("0");
        } else {
            h.tag("<a href=\"").href("/jobs", q).tag("\">").text(n).tag("</a>");
        }
        h.tag("</td>");
    }

    // ---------------------------------------------------------------- jobs

    /** The List request of a jobs page's filter (the same for the page, its live part and bulk actions). */
    static ListRequest.Builder listRequest(Map<String, String> q) {
        ListRequest.Builder request = ListRequest.newBuilder();
        String state = q.getOrDefault("state", "");
        if (!state.isEmpty()) {
            for (String s : state.split(",")) {
                request.addStates(state(s.strip()));
            }
        }
        request.setType(q.getOrDefault("type", "").strip()).setQueue(q.getOrDefault("queue", "").strip())
                .setOwner(q.getOrDefault("owner", "").strip())
                .setPayloadContains(q.getOrDefault("payload", "").strip())
                .setOldestFirst(q.getOrDefault("order", "").equals("oldest"));
        String label = q.getOrDefault("label", "").strip();
        if (!label.isEmpty()) {
            for (String pair : label.split(",")) {
                int eq = pair.indexOf('=');
                if (eq <= 0) {
                    throw Status.INVALID_ARGUMENT.withDescription("label: write key=value (several: a=1,b=2), not '"
                            + pair.strip() + "'").asRuntimeException();
                }
                request.putLabels(pair.substring(0, eq).strip(), pair.substring(eq + 1).strip());
            }
        }
        return request;
    }

    private static JobState state(String name) {
        String upper = name.toUpperCase(Locale.ROOT);
        if (!STATES.contains(upper)) {
            throw Status.INVALID_ARGUMENT.withDescription("state: one of " + String.join(", ", STATES) + ", not '"
                    + name + "'").asRuntimeException();
        }
        return JobState.valueOf("JOB_STATE_" + upper);
    }

    static Map<String, String> filterOf(Map<String, String> q) {
        Map<String, String> filter = new LinkedHashMap<>();
        for (String key : FILTERS) {
            String value = q.getOrDefault(key, "").strip();
            if (!value.isEmpty()) {
                filter.put(key, value);
            }
        }
        return filter;
    }

    Page jobs(Viewer viewer, Map<String, String> q) {
        Map<String, String> filter = filterOf(q);
        Html h = new Html().tag("<h1>Jobs</h1><form class=\"filters\" method=\"get\" action=\"/jobs\">")
                .tag("<label>state <select name=\"state\"><option value=\"\">any</option>");
        for (String s : STATES) {
            h.tag("<option").tag(s.equals(filter.get("state")) ? " selected" : "").tag(">").text(s).tag("</option>");
        }
        h.tag("</select></label>");
        field(h, "type", filter, "e.g. email.send");
        field(h, "queue", filter, "");
        if (viewer.account().admin()) {
            field(h, "owner", filter, "");
        }
        field(h, "label", filter, "key=value");
        field(h, "payload", filter, "{\"customer\": \"c-42\"}");
        h.tag("<label>order <select name=\"order\"><option value=\"\">newest first</option><option value=\"oldest\"")
                .tag("oldest".equals(filter.get("order")) ? " selected" : "").tag(">oldest first</option></select></label>");
        h.tag("<button type=\"submit\">Filter</button> <a href=\"/jobs\">clear</a></form>");
        h.append(liveBlock("/jobs", q, jobsLive(viewer, q)));
        h.tag("<form class=\"bulk\" method=\"post\" action=\"/jobs/bulk\">").append(csrf(viewer));
        for (Map.Entry<String, String> e : filter.entrySet()) {
            h.tag("<input type=\"hidden\" name=\"").attr(e.getKey()).tag("\" value=\"").attr(e.getValue()).tag("\">");
        }
        h.tag("<label>Every job matching this filter: <select name=\"action\">")
                .tag("<option value=\"cancel\">cancel</option><option value=\"retry\">retry</option>")
                .tag("<option value=\"hold\">hold</option><option value=\"release\">release</option></select></label> ")
                .tag("<button type=\"submit\" id=\"bulk\">Count and confirm…</button></form>");
        return new Page("Jobs", h);
    }

    private static void field(Html h, String name, Map<String, String> filter, String placeholder) {
        h.tag("<label>").text(name).tag(" <input name=\"").attr(name).tag("\" value=\"").attr(filter.getOrDefault(name, ""))
                .tag("\" placeholder=\"").attr(placeholder).tag("\"></label>");
    }

    private Html jobsLive(Viewer viewer, Map<String, String> q) {
        ListRequest.Builder request = listRequest(q).setPageToken(q.getOrDefault("page", "")).setPageSize(50);
        ListResponse page = api(viewer).list(request.build());
        boolean admin = viewer.account().admin();
        Html h = new Html().tag("<table class=\"grid jobs\"><thead><tr><th>id</th><th>type</th><th>queue</th>"
                + "<th>state</th><th>attempt</th>").tag(admin ? "<th>owner</th>" : "")
                .tag("<th>created</th><th>progress, result or error</th><th>labels</th></tr></thead><tbody>");
        if (page.getJobsCount() == 0) {
            h.tag("<tr><td colspan=\"9\" class=\"empty\">No jobs match.</td></tr>");
        }
        for (Job job : page.getJobsList()) {
            h.tag("<tr><td><a href=\"").href("/jobs/" + Html.encode(job.getId()), Map.of()).tag("\">").text(job.getId())
                    .tag("</a></td><td>").text(job.getType()).tag("</td><td>").text(job.getQueue()).tag("</td><td>")
                    .append(badge(job.getState())).tag("</td><td class=\"n\">").text(job.getAttempt()).tag("</td>");
            if (admin) {
                h.tag("<td>").text(job.getOwner()).tag("</td>");
            }
            h.tag("<td>").text(time(job.getCreatedAt())).tag("</td><td class=\"clip\">").text(clip(outcome(job)))
                    .tag("</td><td>").append(labels(job.getLabelsMap())).tag("</td></tr>");
        }
        h.tag("</tbody></table><p class=\"pages\">");
        Map<String, String> filter = filterOf(q);
        if (!q.getOrDefault("page", "").isEmpty()) {
            h.tag("<a href=\"").href("/jobs", filter).tag("\">first page</a> ");
        }
        if (!page.getNextPageToken().isEmpty()) {
            Map<String, String> next = new LinkedHashMap<>(filter);
            next.put("page", page.getNextPageToken());
            h.tag("<a id=\"next\" href=\"").href("/jobs", next).tag("\">next page →</a>");
        }
        return h.tag("</p>");
    }

    private static String outcome(Job job) {
        return switch (job.getState()) {
            case JOB_STATE_SUCCEEDED -> job.getResult();
            case JOB_STATE_RUNNING -> job.hasProgress()
                    ? String.format(Locale.ROOT, "%.0f%% %s", job.getProgress().getPercent(), job.getProgress().getMessage())
                    : "";
            default -> job.getLastError();
        };
    }

    private static String clip(String text) {
        return text.length() <= LIST_TEXT ? text : text.substring(0, LIST_TEXT) + "…";
    }

    // ---------------------------------------------------------------- one job

    Page job(Viewer viewer, String id, String done) {
        Job job = api(viewer).get(GetRequest.newBuilder().setId(id).build());
        Html h = new Html().tag("<h1>Job <span class=\"id\">").text(job.getId()).tag("</span> <span class=\"type\">")
                .text(job.getType()).tag("</span></h1>");
        if (done != null) {
            h.tag("<p class=\"notice\" role=\"status\">").text(done).tag("</p>");
        }
        h.append(liveBlock("/jobs/" + Html.encode(id), Map.of(), jobLive(viewer, job)));
        h.tag("<h2>Payload</h2><pre class=\"json\" id=\"payload\">").text(Json.pretty(job.getPayload())).tag("</pre>");
        h.tag("<h2>Details</h2><dl class=\"facts\">");
        fact(h, "queue", job.getQueue());
        fact(h, "owner", job.getOwner());
        fact(h, "priority", String.valueOf(job.getPriority()));
        fact(h, "created", time(job.getCreatedAt()));
        fact(h, "run at", time(job.getRunAt()));
        fact(h, "max attempts", String.valueOf(job.getMaxAttempts()));
        fact(h, "lease", duration(job.getLeaseDuration()));
        if (job.hasRunTimeout()) {
            fact(h, "run timeout", duration(job.getRunTimeout()));
        }
        if (job.getDependsOnCount() > 0) {
            fact(h, "depends on", String.join(", ", job.getDependsOnList()) + (job.getOnDependencyFailure()
                    == io.jobwire.api.v1.DependencyFailure.DEPENDENCY_FAILURE_RUN ? " (runs even if one fails)"
                    : " (cancelled if one fails)"));
        }
        if (!job.getRateKey().isEmpty()) {
            fact(h, "rate key", job.getRateKey() + (job.getWaitingForRate() ? " (waiting for its turn)" : ""));
        }
        if (!job.getConcurrencyKey().isEmpty()) {
            fact(h, "concurrency key", job.getConcurrencyKey() + " (limit " + job.getConcurrencyLimit() + ", "
                    + job.getConcurrencyStrategy().name().replace("CONCURRENCY_STRATEGY_", "").toLowerCase(java.util.Locale.ROOT)
                    .replace('_', '-') + (job.getWaitingForKey() ? "; waiting for a slot)" : ")"));
        }
        if (!job.getIdempotencyKey().isEmpty()) {
            fact(h, "idempotency key", job.getIdempotencyKey());
        }
        if (!job.getParentId().isEmpty()) {
            h.tag("<dt>submitted by job</dt><dd><a href=\"").href("/jobs/" + Html.encode(job.getParentId()), Map.of())
                    .tag("\">").text(job.getParentId()).tag("</a></dd>");
        }
        h.tag("<dt>labels</dt><dd>").append(labels(job.getLabelsMap())).tag("</dd></dl>");
        return new Page("Job " + job.getId(), h);
    }

    private Html jobLive(Viewer viewer, String id) {
        return jobLive(viewer, api(viewer).get(GetRequest.newBuilder().setId(id).build()));
    }

    private Html jobLive(Viewer viewer, Job job) {
        Html h = new Html().tag("<p class=\"state\">").append(badge(job.getState())).tag(" attempt ")
                .text(job.getAttempt()).tag(" of ").text(job.getMaxAttempts());
        if (job.getReleases() > 0) {
            h.tag(", given back ").text(job.getReleases()).tag(job.getReleases() == 1 ? " time" : " times");
        }
        if (job.getState() == JobState.JOB_STATE_RUNNING) {
            h.tag(", held by <code>").text(job.getWorkerId()).tag("</code> until ").text(time(job.getLeaseExpiresAt()));
        }
        h.tag(" · updated ").text(time(job.getUpdatedAt())).tag("</p>");
        h.append(actions(viewer, "/jobs/" + Html.encode(job.getId()), job.getState()));
        if (job.hasProgress()) {
            float percent = job.getProgress().getPercent();
            h.tag("<div class=\"progress\"><progress id=\"progress\" max=\"100\" value=\"")
                    .text(String.format(Locale.ROOT, "%.1f", percent)).tag("\"></progress> <span id=\"percent\">")
                    .text(String.format(Locale.ROOT, "%.0f%%", percent)).tag("</span> <span id=\"progress-message\">")
                    .text(job.getProgress().getMessage()).tag("</span></div>");
            if (!job.getProgress().getDetails().isEmpty()) {
                h.tag("<pre class=\"json\" id=\"progress-details\">").text(Json.pretty(job.getProgress().getDetails()))
                        .tag("</pre>");
            }
        }
        if (!job.getResult().isEmpty()) {
            h.tag("<h2>Result</h2><pre class=\"json\" id=\"result\">").text(Json.pretty(job.getResult())).tag("</pre>");
        }
        if (!job.getLastError().isEmpty()) {
            h.tag("<h2>Last error</h2><pre class=\"error\" id=\"last-error\">").text(job.getLastError()).tag("</pre>");
        }
        h.tag("<h2>Attempts</h2>");
        if (job.getAttemptsCount() == 0) {
            h.tag("<p class=\"empty\">Not started yet.</p>");
        } else {
            h.tag("<table class=\"grid\"><thead><tr><th>#</th><th>worker</th><th>started</th><th>finished</th>"
                    + "<th>outcome</th><th>error</th></tr></thead><tbody>");
            for (Attempt a : job.getAttemptsList()) {
                h.tag("<tr><td class=\"n\">").text(a.getAttempt()).tag("</td><td>").text(a.getWorkerId()).tag("</td><td>")
                        .text(time(a.getStartedAt())).tag("</td><td>").text(time(a.getFinishedAt())).tag("</td><td>")
                        .text(a.getOutcome().name().replace("ATTEMPT_OUTCOME_", "")).tag("</td><td class=\"error\">")
                        .text(a.getError()).tag("</td></tr>");
            }
            h.tag("</tbody></table>");
        }
        if (job.hasCallback()) {
            h.tag("<h2>Callback</h2><p>").text(job.getCallback().getUrl()).tag(" (")
                    .text(job.getCallback().getEvents().name().replace("CALLBACK_EVENTS_", "").toLowerCase(Locale.ROOT))
                    .tag(")</p><table class=\"grid\"><thead><tr><th>delivery</th><th>event</th><th>state</th>"
                            + "<th>attempts</th><th>last answer</th></tr></thead><tbody>");
            for (CallbackDelivery d : job.getCallbacksList()) {
                CallbackAttempt last = d.getAttemptsCount() == 0 ? null : d.getAttempts(d.getAttemptsCount() - 1);
                h.tag("<tr><td>").text(d.getId()).tag("</td><td>").text(d.getEvent()).tag("</td><td>")
                        .text(d.getState().name().replace("CALLBACK_DELIVERY_STATE_", "")).tag("</td><td class=\"n\">")
                        .text(d.getAttemptsCount()).tag("</td><td>")
                        .text(last == null ? "" : (last.getHttpStatus() == 0 ? "" : last.getHttpStatus() + " ") + last.getError())
                        .tag("</td></tr>");
            }
            h.tag("</tbody></table>");
        }
        return h;
    }

    /** The buttons for what may be done to a job in this state: each a POST carrying the CSRF token. */
    private static Html actions(Viewer viewer, String jobPath, JobState state) {
        List<String> actions = new ArrayList<>();
        switch (state) {
            case JOB_STATE_QUEUED -> actions.addAll(List.of("cancel", "hold"));
            case JOB_STATE_RUNNING -> actions.add("cancel");
            case JOB_STATE_HELD -> actions.addAll(List.of("release", "cancel"));
            case JOB_STATE_WAITING -> actions.add("cancel");
            case JOB_STATE_FAILED, JOB_STATE_CANCELLED -> actions.add("retry");
            default -> { }
        }
        Html h = new Html().tag("<div class=\"actions\">");
        for (String action : actions) {
            h.tag("<form method=\"post\" action=\"").attr(jobPath + "/" + action).tag("\">").append(csrf(viewer))
                    .tag("<button type=\"submit\" id=\"").attr(action).tag("\">").text(action).tag("</button></form>");
        }
        return h.tag("</div>");
    }

    static Html csrf(Viewer viewer) {
        return new Html().tag("<input type=\"hidden\" name=\"csrf\" value=\"").attr(viewer.csrf()).tag("\">");
    }

    // ---------------------------------------------------------------- workers

    Page workers(Viewer viewer) {
        return new Page("Workers", new Html().tag("<h1>Workers</h1>").append(liveBlock("/workers", Map.of(), workersLive(viewer))));
    }

    private Html workersLive(Viewer viewer) {
        StatsResponse stats = api(viewer).stats(StatsRequest.getDefaultInstance());
        ListResponse running = api(viewer).list(ListRequest.newBuilder().addStates(JobState.JOB_STATE_RUNNING)
                .setPageSize(500).build());
        Map<String, List<Job>> held = new TreeMap<>();
        for (Job job : running.getJobsList()) {
            held.computeIfAbsent(job.getWorkerId(), w -> new ArrayList<>()).add(job);
        }
        Html h = new Html().tag("<table class=\"grid\"><thead><tr><th>worker</th><th>broker</th><th>types</th>"
                + "<th>queues</th><th>running</th><th>free</th><th>of</th><th>connected</th><th>last seen</th>"
                + "<th>jobs held</th></tr></thead><tbody>");
        if (stats.getWorkersCount() == 0) {
            h.tag("<tr><td colspan=\"10\" class=\"empty\">No worker is connected. Start one: <code>jobwire work "
                    + "--type hello --exec 'cat'</code></td></tr>");
        }
        for (WorkerInfo w : stats.getWorkersList()) {
            h.tag("<tr><td>").text(w.getWorkerId()).tag("</td><td>").text(w.getBrokerId()).tag("</td><td>")
                    .text(String.join(", ", w.getJobTypesList())).tag("</td><td>")
                    .text(w.getQueuesCount() == 0 ? "any" : String.join(", ", w.getQueuesList())).tag("</td><td class=\"n\">")
                    .text(w.getInFlight()).tag("</td><td class=\"n\">").text(w.getFreeCapacity()).tag("</td><td class=\"n\">")
                    .text(w.getMaxConcurrency()).tag("</td><td>").text(time(w.getConnectedAt())).tag("</td><td>")
                    .text(time(w.getLastSeenAt())).tag("</td><td>");
            for (Job job : held.getOrDefault(w.getWorkerId(), List.of())) {
                h.tag("<a href=\"").href("/jobs/" + Html.encode(job.getId()), Map.of()).tag("\">").text(job.getId())
                        .tag("</a> ");
            }
            h.tag("</td></tr>");
        }
        return h.tag("</tbody></table>");
    }

    // ---------------------------------------------------------------- schedules

    Page schedules(Viewer viewer) {
        List<io.jobwire.api.v1.Schedule> schedules = api(viewer)
                .listSchedules(io.jobwire.api.v1.ListSchedulesRequest.getDefaultInstance()).getSchedulesList();
        Html h = new Html().tag("<h1>Schedules</h1><table class=\"grid\" id=\"schedules\"><thead><tr><th>name</th>")
                .tag(viewer.account().admin() ? "<th>owner</th>" : "")
                .tag("<th>when</th><th>type</th><th>next fires</th><th>last fire</th><th>fires</th><th>note</th></tr></thead><tbody>");
        if (schedules.isEmpty()) {
            h.tag("<tr><td colspan=\"8\" class=\"empty\">No schedule yet: <code>jobwire schedules create --name N "
                    + "--cron \"0 3 * * *\" --type T</code></td></tr>");
        }
        for (io.jobwire.api.v1.Schedule s : schedules) {
            h.tag("<tr><td>").text(s.getName()).tag("</td>");
            if (viewer.account().admin()) {
                h.tag("<td>").text(s.getOwner()).tag("</td>");
            }
            h.tag("<td>").text(s.getCron().isEmpty() ? "every " + duration(s.getEvery()) : s.getCron() + " (" + s.getZone() + ")")
                    .tag("</td><td><a href=\"").href("/types/" + Html.encode(s.getJob().getType()), Map.of()).tag("\">")
                    .text(s.getJob().getType()).tag("</a></td><td>");
            if (s.getPaused()) {
                h.tag("<span class=\"badge held\">PAUSED</span>");
            }
            for (int i = 0; i < Math.min(3, s.getNextFiresCount()); i++) {
                h.text(time(s.getNextFires(i))).tag("<br>");
            }
            h.tag("</td><td>");
            if (s.hasLastFireAt()) {
                h.text(time(s.getLastFireAt())).tag(" <a href=\"").href("/jobs/" + Html.encode(s.getLastJobId()), Map.of())
                        .tag("\">job ").text(s.getLastJobId()).tag("</a>");
            }
            h.tag("</td><td class=\"n\">").text(s.getFires()).tag("</td><td class=\"error\">").text(s.getLastError())
                    .tag("</td></tr>");
        }
        return new Page("Schedules", h.tag("</tbody></table>"));
    }

    // ---------------------------------------------------------------- job types

    Page types(Viewer viewer) {
        List<JobTypeInfo> types = api(viewer).listJobTypes(ListJobTypesRequest.getDefaultInstance()).getJobTypesList();
        Html h = new Html().tag("<h1>Job types</h1><table class=\"grid\"><thead><tr><th>type</th><th>description</th>"
                + "<th>registered</th><th>workers online</th><th>last seen</th></tr></thead><tbody>");
        if (types.isEmpty()) {
            h.tag("<tr><td colspan=\"5\" class=\"empty\">No job type is known yet: register one "
                    + "(<code>jobwire types register</code>) or start a worker.</td></tr>");
        }
        for (JobTypeInfo t : types) {
            h.tag("<tr><td><a href=\"").href("/types/" + Html.encode(t.getName()), Map.of()).tag("\">").text(t.getName())
                    .tag("</a></td><td>").text(t.getDescription()).tag("</td><td>")
                    .text(t.hasRegistration() ? "version " + t.getRegistrationVersion() + " by " + t.getRegisteredBy() : "no")
                    .tag("</td><td class=\"n\">").text(t.getWorkersOnline()).tag("</td><td>").text(time(t.getLastSeenAt()))
                    .tag("</td></tr>");
        }
        return new Page("Job types", h.tag("</tbody></table>"));
    }

    Page type(Viewer viewer, String name) {
        JobTypeInfo t = api(viewer).getJobType(GetJobTypeRequest.newBuilder().setName(name).build());
        Html h = new Html().tag("<h1>Job type <span class=\"type\">").text(t.getName()).tag("</span></h1>");
        if (!t.getDescription().isEmpty()) {
            h.tag("<p class=\"lead\">").text(t.getDescription()).tag("</p>");
        }
        h.tag("<p><a href=\"").href("/jobs", Map.of("type", t.getName())).tag("\">its jobs</a> · ").text(t.getWorkersOnline())
                .tag(" worker streams online, last seen ").text(time(t.getLastSeenAt())).tag("</p>");
        if (t.hasRegistration()) {
            JobTypeRegistration r = t.getRegistration();
            h.tag("<p>Registered by ").text(t.getRegisteredBy()).tag(" at ").text(time(t.getRegisteredAt()))
                    .tag(", version ").text(t.getRegistrationVersion()).tag(".</p>");
            if (!r.getDocumentation().isEmpty()) {
                h.tag("<h2>Documentation</h2><pre class=\"doc\">").text(r.getDocumentation()).tag("</pre>");
            }
            if (!r.getPayloadSchema().isEmpty()) {
                h.tag("<h2>Payload schema</h2><pre class=\"json\">").text(Json.pretty(r.getPayloadSchema())).tag("</pre>");
            }
            if (!r.getResultSchema().isEmpty()) {
                h.tag("<h2>Result schema</h2><pre class=\"json\">").text(Json.pretty(r.getResultSchema())).tag("</pre>");
            }
            h.tag("<h2>Defaults</h2><dl class=\"facts\">");
            fact(h, "queue", r.getDefaults().getQueue());
            fact(h, "lease", r.getDefaults().hasLeaseDuration() ? duration(r.getDefaults().getLeaseDuration()) : "");
            fact(h, "max attempts", r.getDefaults().getMaxAttempts() == 0 ? "" : String.valueOf(r.getDefaults().getMaxAttempts()));
            fact(h, "run timeout", r.getDefaults().hasRunTimeout() ? duration(r.getDefaults().getRunTimeout()) : "");
            fact(h, "may submit (uses)", String.join(", ", r.getUsesList()));
            h.tag("</dl>");
        } else if (!t.getPayloadSchema().isEmpty()) {
            h.tag("<h2>Payload schema (announced by its workers)</h2><pre class=\"json\">").text(Json.pretty(t.getPayloadSchema()))
                    .tag("</pre>");
        }
        return new Page("Job type " + t.getName(), h);
    }

    // ---------------------------------------------------------------- pieces

    private static void fact(Html h, String name, String value) {
        h.tag("<dt>").text(name).tag("</dt><dd>").text(value.isEmpty() ? "—" : value).tag("</dd>");
    }

    static Html badge(JobState state) {
        String name = state.name().replace("JOB_STATE_", "");
        return new Html().tag("<span class=\"badge ").text(name.toLowerCase(Locale.ROOT)).tag("\">").text(name).tag("</span>");
    }

    private static Html labels(Map<String, String> labels) {
        Html h = new Html();
        for (Map.Entry<String, String> e : new TreeMap<>(labels).entrySet()) {
            h.tag("<span class=\"label\">").text(e.getKey()).tag("=").text(e.getValue()).tag("</span> ");
        }
        return h;
    }

    static String time(Timestamp t) {
        if (t.getSeconds() == 0 && t.getNanos() == 0) {
            return "";
        }
        return TIME.format(Instant.ofEpochSecond(t.getSeconds(), t.getNanos()));
    }

    static String duration(Duration d) {
        long s = d.getSeconds();
        if (s < 120) {
            return s + " s";
        }
        if (s < 7200) {
            return s / 60 + " min";
        }
        if (s < 172_800) {
            return s / 3600 + " h";
        }
        return s / 86_400 + " d";
    }

    /** A gRPC refusal as an HTTP status. */
    static int httpStatus(StatusRuntimeException e) {
        return switch (e.getStatus().getCode()) {
            case NOT_FOUND -> 404;
            case INVALID_ARGUMENT, OUT_OF_RANGE -> 400;
            case PERMISSION_DENIED -> 403;
            case UNAUTHENTICATED -> 401;
            case FAILED_PRECONDITION, ALREADY_EXISTS, ABORTED -> 409;
            case RESOURCE_EXHAUSTED -> 429;
            case UNAVAILABLE, DEADLINE_EXCEEDED -> 503;
            default -> 500;
        };
    }
}
