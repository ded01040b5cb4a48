package io.jobwire.broker.dashboard;

import io.grpc.StatusRuntimeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live pages: a page's live part is re-rendered on the server (as the page's viewer, through the same
 * calls) and sent over server-sent events when it changed; the page's script swaps it in. A job's page is
 * looked at every second, the others every two; a comment line every 15 s finds closed connections. One
 * render and one write at a time per stream: a slow browser skips updates rather than queueing them.
 */
final class Live implements AutoCloseable {
    static final int MAX_STREAMS = 500;
    private static final Duration HEARTBEAT = Duration.ofSeconds(15);
    private static final Logger log = LoggerFactory.getLogger(Live.class);

    private final class Stream {
        final Response response;
        final Callback done;
        final Sessions.Session session;
        final String path;
        final Map<String, String> query;
        final Duration every;
        final AtomicBoolean busy = new AtomicBoolean();
        final AtomicBoolean ended = new AtomicBoolean();
        volatile String last;
        volatile Instant due;
        volatile Instant wrote;

        Stream(Response response, Callback done, Sessions.Session session, String path, Map<String, String> query,
               String sent) {
            this.response = response;
            this.done = done;
            this.session = session;
            this.path = path;
            this.query = query;
            this.every = path.startsWith("/jobs/") ? Duration.ofSeconds(1) : Duration.ofSeconds(2);
            this.last = sent;
            Instant now = clock.instant();
            this.due = now.plus(every);
            this.wrote = now;
        }

        void end(Throwable failure) {
            if (ended.compareAndSet(false, true)) {
                streams.remove(this);
                if (failure == null) {
                    done.succeeded();
                } else {
                    done.failed(failure);
                }
            }
        }
    }

    private final Views views;
    private final Sessions sessions;
    private final ExecutorService renderers;
    private final Clock clock;
    private final Set<Stream> streams = ConcurrentHashMap.newKeySet();

    Live(Views views, Sessions sessions, ExecutorService renderers, Clock clock) {
        this.views = views;
        this.sessions = sessions;
        this.renderers = renderers;
        this.clock = clock;
    }

    /** Starts a stream of a page's live part; false when too many are open (the caller answers 503). */
    boolean open(Response response, Callback done, Sessions.Session session, String path, Map<String, String> query) {
        if (streams.size() >= MAX_STREAMS) {
            return false;
        }
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        response.getHeaders().put("X-Accel-Buffering", "no");
        Stream stream = new Stream(response, done, session, path, query, null);
        streams.add(stream);
        stream.busy.set(true);
        response.write(false, utf8("retry: 3000\n\n"), Callback.from(() -> stream.busy.set(false), stream::end));
        return true;
    }

    /** Called every half second: renders each stream that is due. */
    void tick() {
        Instant now = clock.instant();
        for (Stream stream : streams) {
            if (now.isBefore(stream.due) || !stream.busy.compareAndSet(false, true)) {
                continue;
            }
            stream.due = now.plus(stream.every);
            try {
                renderers.execute(() -> render(stream));
            } catch (RuntimeException rejected) {
                stream.busy.set(false);
            }
        }
    }

    private void render(Stream stream) {
        try {
            if (stream.ended.get()) {
                return;
            }
            Sessions.Session session = sessions.find(stream.session.id);
            if (session == null || session.account == null) {
                send(stream, "event: ended\ndata: logged out\n\n", true);
                return;
            }
            String html;
            try {
                Html part = views.live(new Views.Viewer(session.account, session.csrf), stream.path, stream.query);
                html = part == null ? "" : part.toString();
            } catch (StatusRuntimeException e) {
                html = "<p class=\"error\" role=\"alert\">" + Html.escape(e.getStatus().getDescription() == null
                        ? e.getStatus().getCode().toString() : e.getStatus().getDescription()) + "</p>";
            }
            Instant now = clock.instant();
            if (html.equals(stream.last)) {
                if (now.isAfter(stream.wrote.plus(HEARTBEAT))) {
                    stream.wrote = now;
                    send(stream, ": still here\n\n", false);
                } else {
                    stream.busy.set(false);
                }
                return;
            }
            stream.last = html;
            stream.wrote = now;
            StringBuilder event = new StringBuilder("event: update\n");
            for (String line : html.split("\n", -1)) {
                event.append("data: ").append(line).append('\n');
            }
            send(stream, event.append('\n').toString(), false);
        } catch (RuntimeException e) {
            log.debug("live stream of {} ended: {}", stream.path, e.toString());
            stream.end(e);
        }
    }

    private void send(Stream stream, String text, boolean last) {
        stream.response.write(last, utf8(text), Callback.from(() -> {
            if (last) {
                stream.end(null);
            } else {
                stream.busy.set(false);
            }
        }, stream::end));
    }

    int size() {
        return streams.size();
    }

    private static ByteBuffer utf8(String text) {
        return ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void close() {
        for (Stream stream : streams) {
            stream.end(null);
        }
    }
}
