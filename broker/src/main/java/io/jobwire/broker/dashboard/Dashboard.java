package io.jobwire.broker.dashboard;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.jobwire.broker.dashboard.Sessions.Account;
import io.jobwire.broker.dashboard.Sessions.Session;
import io.jobwire.api.v1.CancelRequest;
import io.jobwire.api.v1.HoldRequest;
import io.jobwire.api.v1.JobServiceGrpc;
import io.jobwire.api.v1.JobServiceGrpc.JobServiceBlockingStub;
import io.jobwire.api.v1.ListRequest;
import io.jobwire.api.v1.ListResponse;
import io.jobwire.api.v1.ReleaseRequest;
import io.jobwire.api.v1.RetryRequest;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.eclipse.jetty.http.HttpCookie;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.FormFields;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The web dashboard on the broker's HTTP port: server-rendered pages over the broker's own JobService,
 * called in process with the logged-in person's token, so the dashboard can see and do exactly what that
 * token can through gRPC (a {@code submit} token sees its own jobs, {@code admin} all of them).
 *
 * <p>Security: log in with a broker token (an open broker, allowed only on loopback, needs none, and then
 * answers only requests addressed to a loopback name, against DNS rebinding); the session cookie is
 * {@code HttpOnly}, {@code SameSite=Strict} and, under TLS, {@code Secure}; every POST carries the
 * session's CSRF token and, when the browser sends one, an Origin of this host; every page has a strict
 * Content-Security-Policy (scripts and styles only from {@code /static/}, nothing inline) and every value
 * from a job is escaped ({@link Html}).
 */
public final class Dashboard implements AutoCloseable {
    /** Who a broker token belongs to, for the login form. */
    public record Login(String name, boolean admin) {
    }

    /** Checks a token given at login; empty when it is not a broker token. */
    @FunctionalInterface
    public interface Logins {
        Optional<Login> check(String token);
    }

    static final String COOKIE = "jobwire_session";
    static final int BULK_MAX = 10_000;
    private static final Set<String> ACTIONS = Set.of("cancel", "retry", "hold", "release");
    private static final Map<String, String> DONE = Map.of("cancel", "Cancelled.", "retry", "Queued again.",
            "hold", "Held: it will not run until released.", "release", "Released: queued again.");
    private static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final Logger log = LoggerFactory.getLogger(Dashboard.class);

    private final Channel channel;
    private final Logins logins;
    private final boolean secure;
    private final Set<String> openHosts;
    private final Sessions sessions;
    private final Timeline timeline;
    private final Views views;
    private final Live live;
    private final ScheduledExecutorService ticker;
    private final ExecutorService renderers;

    /**
     * @param channel   an in-process channel to the broker's JobService (with its interceptors)
     * @param logins    checks login tokens; null for an open broker (no login: everyone is admin)
     * @param secure    the HTTP port serves TLS: the cookie is {@code Secure}
     * @param boundHost the host the port is bound to (on an open broker, requests must name it or a
     *                  loopback name)
     */
    public Dashboard(Channel channel, Logins logins, boolean secure, String boundHost, Timeline.Source counts, Clock clock) {
        this.channel = channel;
        this.logins = logins;
        this.secure = secure;
        this.openHosts = new java.util.HashSet<>(List.of("localhost", "127.0.0.1", "[::1]", "::1"));
        openHosts.add(boundHost.toLowerCase(Locale.ROOT));
        this.sessions = new Sessions(clock);
        this.timeline = new Timeline(counts, clock);
        this.views = new Views(this::blocking, timeline, clock);
        this.renderers = new ThreadPoolExecutor(2, 2, 60, TimeUnit.SECONDS, new ArrayBlockingQueue<>(Live.MAX_STREAMS),
                new ThreadFactoryBuilder().setNameFormat("jobwire-dashboard-%d").setDaemon(true).build());
        this.live = new Live(views, sessions, renderers, clock);
        this.ticker = Executors.newSingleThreadScheduledExecutor(
                new ThreadFactoryBuilder().setNameFormat("jobwire-dashboard-ticker").setDaemon(true).build());
    }

    public void start() {
        timeline.sampleAllJobsAlways();
        ticker.scheduleWithFixedDelay(this::sampleQuietly, 0, Timeline.STEP.toMillis(), TimeUnit.MILLISECONDS);
        ticker.scheduleWithFixedDelay(live::tick, 500, 500, TimeUnit.MILLISECONDS);
    }

    private void sampleQuietly() {
        try {
            timeline.sample();
        } catch (RuntimeException e) {
            log.debug("dashboard could not sample the counts: {}", e.toString());
        }
    }

    private JobServiceBlockingStub blocking(Account account) {
        JobServiceBlockingStub stub = JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        if (account.token() != null) {
            Metadata headers = new Metadata();
            headers.put(AUTHORIZATION, "Bearer " + account.token());
            stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
        }
        return stub;
    }

    /** The Jetty handler serving the dashboard's addresses (the broker's HTTP port passes it what it does not serve). */
    public Handler handler() {
        return new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                try {
                    serve(request, response, callback);
                } catch (RuntimeException e) {
                    log.warn("dashboard request {} {} failed", request.getMethod(), Request.getPathInContext(request), e);
                    page(response, callback, 500, null, "Error", new Html().tag("<h1>Something went wrong</h1><p>")
                            .text(e.getClass().getSimpleName()).tag(" (see the broker's log)</p>"));
                }
                return true;
            }
        };
    }

    private void serve(Request request, Response response, Callback callback) {
        String path = Request.getPathInContext(request);
        String method = request.getMethod();
        boolean get = method.equals("GET") || method.equals("HEAD");
        if (!get && !method.equals("POST")) {
            plain(response, callback, 405, "GET or POST\n");
            return;
        }
        if (get && path.startsWith("/static/")) {
            asset(response, callback, path.substring(8));
            return;
        }
        if (logins == null && !openHosts.contains(hostOf(request))) {
            plain(response, callback, 403, "this open broker answers only requests to a loopback name "
                    + "(http://127.0.0.1 or http://localhost)\n");
            return;
        }
        Session session = sessions.find(cookie(request));
        if (session == null && logins == null) {
            session = sessions.open(new Account("anonymous", true, null));
            setCookie(response, session);
        }
        Map<String, String> query = single(Request.extractQueryParameters(request));
        Map<String, String> form = Map.of();
        if (!get) {
            form = single(FormFields.getFields(request));
            if (session == null || !session.csrfMatches(form.get("csrf")) || !sameOrigin(request)) {
                page(response, callback, 403, null, "Refused", new Html().tag("<h1>Refused</h1><p>This form is out of "
                        + "date or came from another site. Go back, reload the page and try again.</p>"));
                return;
            }
        }
        if (path.equals("/login")) {
            login(request, response, callback, session, get, query, form);
            return;
        }
        if (session == null || session.account == null) {
            if (get && !path.equals("/live")) {
                Response.sendRedirect(request, response, callback, 303,
                        Html.link("/login", Map.of("next", path + (request.getHttpURI().getQuery() == null ? ""
                                : "?" + request.getHttpURI().getQuery()))), true);
            } else {
                plain(response, callback, 401, "log in first\n");
            }
            return;
        }
        Views.Viewer viewer = new Views.Viewer(session.account, session.csrf);
        try {
            if (get) {
                read(request, response, callback, session, viewer, path, query);
            } else {
                act(request, response, callback, session, viewer, path, form);
            }
        } catch (StatusRuntimeException e) {
            int status = Views.httpStatus(e);
            String why = e.getStatus().getDescription() == null ? e.getStatus().getCode().toString()
                    : e.getStatus().getDescription();
            page(response, callback, status, viewer, status == 404 ? "Not found" : "Refused",
                    new Html().tag("<h1>").text(status == 404 ? "Not found" : "Refused").tag("</h1><p class=\"error\" role=\"alert\">")
                            .text(why).tag("</p>"));
        }
    }

    private void read(Request request, Response response, Callback callback, Session session, Views.Viewer viewer,
                      String path, Map<String, String> query) {
        if (path.equals("/live")) {
            String view = query.getOrDefault("view", "/");
            URI uri;
            try {
                uri = URI.create(view);
            } catch (IllegalArgumentException e) {
                plain(response, callback, 400, "view: not an address\n");
                return;
            }
            Map<String, String> viewQuery = new LinkedHashMap<>();
            if (uri.getRawQuery() != null) {
                Fields fields = new Fields();
                org.eclipse.jetty.util.UrlEncoded.decodeUtf8To(uri.getRawQuery(), fields);
                viewQuery = single(fields);
            }
            if (!Views.hasLive(uri.getPath())) {
                plain(response, callback, 404, "no live part at " + uri.getPath() + "\n");
            } else if (!live.open(response, callback, session, uri.getPath(), viewQuery)) {
                plain(response, callback, 503, "too many live pages are open; reload later\n");
            }
            return;
        }
        Views.Page page;
        if (path.equals("/")) {
            page = views.overview(viewer);
        } else if (path.equals("/jobs")) {
            page = views.jobs(viewer, query);
        } else if (path.startsWith("/jobs/") && path.indexOf('/', 6) < 0) {
            page = views.job(viewer, path.substring(6), DONE.get(query.getOrDefault("done", "")));
        } else if (path.equals("/workers")) {
            page = views.workers(viewer);
        } else if (path.equals("/schedules")) {
            page = views.schedules(viewer);
        } else if (path.equals("/types")) {
            page = views.types(viewer);
        } else if (path.startsWith("/types/") && path.length() > 7) {
            page = views.type(viewer, path.substring(7));
        } else {
            page = new Views.Page("Not found", new Html().tag("<h1>Not found</h1><p>Nothing at ").text(path).tag(".</p>"));
            page(response, callback, 404, viewer, page.title(), page.body());
            return;
        }
        page(response, callback, 200, viewer, page.title(), page.body());
    }

    private void act(Request request, Response response, Callback callback, Session session, Views.Viewer viewer,
                     String path, Map<String, String> form) {
        if (path.equals("/logout")) {
            sessions.close(session);
            Response.addCookie(response, cookie("", 0));
            Response.sendRedirect(request, response, callback, 303, logins == null ? "/" : "/login", true);
            return;
        }
        if (path.equals("/jobs/bulk")) {
            bulk(response, callback, viewer, form);
            return;
        }
        String[] parts = path.split("/");
        if (parts.length == 4 && parts[1].equals("jobs") && ACTIONS.contains(parts[3])) {
            String id = parts[2];
            act(viewer, parts[3], id);
            Response.sendRedirect(request, response, callback, 303,
                    Html.link("/jobs/" + Html.encode(id), Map.of("done", parts[3])), true);
            return;
        }
        plain(response, callback, 404, "nothing to post to at " + path + "\n");
    }

    private void act(Views.Viewer viewer, String action, String id) {
        JobServiceBlockingStub api = views.api(viewer);
        switch (action) {
            case "cancel" -> api.cancel(CancelRequest.newBuilder().setId(id)
                    .setReason("cancelled from the dashboard by " + viewer.account().name()).build());
            case "retry" -> api.retry(RetryRequest.newBuilder().setId(id).build());
            case "hold" -> api.hold(HoldRequest.newBuilder().setId(id).build());
            case "release" -> api.release(ReleaseRequest.newBuilder().setId(id).build());
            default -> throw Status.INVALID_ARGUMENT.withDescription("unknown action " + action).asRuntimeException();
        }
    }

    /**
     * One action on every job matching a filter: first a page with the count and a confirmation, then the
     * action on each job (at most {@link #BULK_MAX}, newest first), each through the same call as one job's.
     */
    private void bulk(Response response, Callback callback, Views.Viewer viewer, Map<String, String> form) {
        String action = form.getOrDefault("action", "");
        if (!ACTIONS.contains(action)) {
            throw Status.INVALID_ARGUMENT.withDescription("action: one of cancel, retry, hold, release").asRuntimeException();
        }
        Map<String, String> filter = Views.filterOf(form);
        List<String> ids = matching(viewer, filter);
        boolean more = ids.size() > BULK_MAX;
        if (more) {
            ids = ids.subList(0, BULK_MAX);
        }
        Html h = new Html();
        if (!form.containsKey("confirm")) {
            h.tag("<h1>").text(capitalized(action)).tag(" ").text(more ? "the newest " + BULK_MAX : String.valueOf(ids.size()))
                    .tag(ids.size() == 1 ? " job?" : " jobs?").tag("</h1><p id=\"count\">")
                    .text(more ? "More than " + BULK_MAX + " jobs match" : ids.size() + (ids.size() == 1 ? " job matches" : " jobs match"))
                    .tag(" the filter ").append(describe(filter)).tag(".</p>");
            if (!ids.isEmpty()) {
                h.tag("<form method=\"post\" action=\"/jobs/bulk\">").append(Views.csrf(viewer))
                        .tag("<input type=\"hidden\" name=\"action\" value=\"").attr(action).tag("\">")
                        .tag("<input type=\"hidden\" name=\"confirm\" value=\"").attr(ids.size()).tag("\">");
                for (Map.Entry<String, String> e : filter.entrySet()) {
                    h.tag("<input type=\"hidden\" name=\"").attr(e.getKey()).tag("\" value=\"").attr(e.getValue()).tag("\">");
                }
                h.tag("<button type=\"submit\" id=\"confirm\">").text(capitalized(action)).tag(" them</button> ");
                h.tag("</form>");
            }
            h.tag("<p><a href=\"").href("/jobs", filter).tag("\">Back to the jobs</a></p>");
            page(response, callback, 200, viewer, "Confirm", h);
            return;
        }
        int done = 0;
        int skipped = 0;
        List<String> failures = new ArrayList<>();
        for (String id : ids) {
            try {
                act(viewer, action, id);
                done++;
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.FAILED_PRECONDITION || e.getStatus().getCode() == Status.Code.NOT_FOUND) {
                    skipped++; // it changed state since it was listed
                } else if (failures.size() < 10) {
                    failures.add(id + ": " + e.getStatus().getCode() + " " + e.getStatus().getDescription());
                }
            }
        }
        h.tag("<h1>Done</h1><p id=\"outcome\" role=\"status\">").text(pastTense(action)).tag(" ").text(done)
                .tag(done == 1 ? " job" : " jobs");
        if (skipped > 0) {
            h.tag("; ").text(skipped).tag(" had changed state meanwhile and were left alone");
        }
        h.tag(".</p>");
        for (String failure : failures) {
            h.tag("<p class=\"error\">").text(failure).tag("</p>");
        }
        h.tag("<p><a href=\"").href("/jobs", filter).tag("\">Back to the jobs</a></p>");
        page(response, callback, 200, viewer, "Done", h);
    }

    private List<String> matching(Views.Viewer viewer, Map<String, String> filter) {
        List<String> ids = new ArrayList<>();
        ListRequest.Builder request = Views.listRequest(filter).setPageSize(1000);
        while (ids.size() <= BULK_MAX) {
            ListResponse page = views.api(viewer).list(request.build());
            page.getJobsList().forEach(job -> ids.add(job.getId()));
            if (page.getNextPageToken().isEmpty()) {
                break;
            }
            request.setPageToken(page.getNextPageToken());
        }
        return ids;
    }

    private static Html describe(Map<String, String> filter) {
        if (filter.isEmpty()) {
            return new Html().tag("(none: every job you can see)");
        }
        Html h = new Html();
        for (Map.Entry<String, String> e : filter.entrySet()) {
            h.tag("<code>").text(e.getKey()).tag("=").text(e.getValue()).tag("</code> ");
        }
        return h;
    }

    private static String capitalized(String action) {
        return Character.toUpperCase(action.charAt(0)) + action.substring(1);
    }

    private static String pastTense(String action) {
        return switch (action) {
            case "cancel" -> "Cancelled";
            case "retry" -> "Queued again";
            case "hold" -> "Held";
            default -> "Released";
        };
    }

    private void login(Request request, Response response, Callback callback, Session session, boolean get,
                       Map<String, String> query, Map<String, String> form) {
        if (logins == null) {
            Response.sendRedirect(request, response, callback, 303, "/", true);
            return;
        }
        String next = safeNext(get ? query.get("next") : form.get("next"));
        String error = null;
        if (!get) {
            String token = form.getOrDefault("token", "").strip();
            Optional<Login> login = token.startsWith("jwj_") ? Optional.empty() : logins.check(token);
            if (login.isPresent()) {
                sessions.close(session); // a new id at login: a session id known before it is worth nothing after
                Session fresh = sessions.open(new Account(login.get().name(), login.get().admin(), token));
                setCookie(response, fresh);
                Response.sendRedirect(request, response, callback, 303, next, true);
                return;
            }
            error = "That is not a valid broker token.";
        }
        if (session == null) {
            session = sessions.open(null);
            setCookie(response, session);
        }
        Html h = new Html().tag("<h1>Log in</h1><form class=\"login\" method=\"post\" action=\"/login\">")
                .tag("<input type=\"hidden\" name=\"csrf\" value=\"").attr(session.csrf).tag("\">")
                .tag("<input type=\"hidden\" name=\"next\" value=\"").attr(next).tag("\">")
                .tag("<label>Broker token <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" "
                        + "autofocus></label> <button type=\"submit\" id=\"login\">Log in</button></form>")
                .tag("<p class=\"note\">A token from the broker's tokens file (<code>jobwire token add</code>): a "
                        + "<code>submit</code> token shows its own jobs, an <code>admin</code> token all of them.</p>");
        if (error != null) {
            h.tag("<p class=\"error\" role=\"alert\">").text(error).tag("</p>");
        }
        page(response, callback, error == null ? 200 : 401, null, "Log in", h);
    }

    /** Where to go after login: a path on this site only (not {@code //host} or {@code /\host}). */
    private static String safeNext(String next) {
        if (next == null || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")
                || next.chars().anyMatch(c -> c < 0x20)) {
            return "/";
        }
        return next;
    }

    // ---------------------------------------------------------------- HTTP pieces

    private void page(Response response, Callback callback, int status, Views.Viewer viewer, String title, Html body) {
        Html h = new Html().tag("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
                .tag("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>").text(title)
                .tag(" · Jobwire</title><link rel=\"stylesheet\" href=\"/static/dashboard.css\">")
                .tag("<script src=\"/static/dashboard.js\" defer></script></head><body><header>")
                .tag("<a class=\"brand\" href=\"/\">Jobwire</a>");
        if (viewer != null) {
            h.tag("<nav><a href=\"/\">Overview</a><a href=\"/jobs\">Jobs</a><a href=\"/workers\">Workers</a>"
                    + "<a href=\"/types\">Job types</a><a href=\"/schedules\">Schedules</a></nav><span class=\"who\" id=\"who\">").text(viewer.account().name())
                    .tag(viewer.account().admin() ? " (admin)" : "").tag("</span>");
            if (logins != null) {
                h.tag("<form class=\"logout\" method=\"post\" action=\"/logout\">").append(Views.csrf(viewer))
                        .tag("<button type=\"submit\" id=\"logout\">Log out</button></form>");
            }
        }
        h.tag("</header><main>").append(body).tag("</main></body></html>");
        response.setStatus(status);
        headers(response, "text/html; charset=utf-8");
        response.write(true, ByteBuffer.wrap(h.toString().getBytes(StandardCharsets.UTF_8)), callback);
    }

    private static void headers(Response response, String type) {
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        response.getHeaders().put("Content-Security-Policy", CSP);
        response.getHeaders().put("X-Content-Type-Options", "nosniff");
        response.getHeaders().put("X-Frame-Options", "DENY");
        response.getHeaders().put("Referrer-Policy", "same-origin");
    }

    private static void plain(Response response, Callback callback, int status, String text) {
        response.setStatus(status);
        headers(response, "text/plain; charset=utf-8");
        response.write(true, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), callback);
    }

    private static void asset(Response response, Callback callback, String name) {
        String type = name.equals("dashboard.css") ? "text/css; charset=utf-8"
                : name.equals("dashboard.js") ? "text/javascript; charset=utf-8" : null;
        if (type == null) {
            plain(response, callback, 404, "no such file\n");
            return;
        }
        try (InputStream in = Dashboard.class.getResourceAsStream(name)) {
            byte[] bytes = in.readAllBytes();
            response.setStatus(200);
            headers(response, type);
            response.write(true, ByteBuffer.wrap(bytes), callback);
        } catch (IOException | NullPointerException e) {
            plain(response, callback, 500, "cannot read " + name + "\n");
        }
    }

    private void setCookie(Response response, Session session) {
        Response.addCookie(response, cookie(session.id, -1));
    }

    private HttpCookie cookie(String value, long maxAge) {
        HttpCookie.Builder cookie = HttpCookie.build(COOKIE, value).path("/").httpOnly(true)
                .sameSite(HttpCookie.SameSite.STRICT).secure(secure);
        if (maxAge >= 0) {
            cookie.maxAge(maxAge);
        }
        return cookie.build();
    }

    private static String cookie(Request request) {
        for (HttpCookie cookie : Request.getCookies(request)) {
            if (cookie.getName().equals(COOKIE)) {
                return cookie.getValue();
            }
        }
        return null;
    }

    private static String hostOf(Request request) {
        String host = request.getHttpURI().getHost();
        return host == null ? "" : host.toLowerCase(Locale.ROOT);
    }

    /** An Origin header, when the browser sends one, must name this very host and port. */
    private static boolean sameOrigin(Request request) {
        String origin = request.getHeaders().get(HttpHeader.ORIGIN);
        if (origin == null) {
            return true;
        }
        try {
            URI o = URI.create(origin);
            String host = request.getHeaders().get(HttpHeader.HOST);
            return host != null && host.equalsIgnoreCase(o.getRawAuthority());
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static Map<String, String> single(Fields fields) {
        Map<String, String> map = new LinkedHashMap<>();
        if (fields != null) {
            for (Fields.Field field : fields) {
                map.put(field.getName(), field.getValue());
            }
        }
        return map;
    }

    @Override
    public void close() {
        ticker.shutdownNow();
        live.close();
        renderers.shutdownNow();
    }
}
