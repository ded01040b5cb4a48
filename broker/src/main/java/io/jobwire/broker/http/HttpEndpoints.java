package io.jobwire.broker.http;

import io.jobwire.broker.metrics.BrokerMetrics;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import java.util.function.Predicate;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The broker's HTTP port ({@code serve --http-port}, bound to the same address as the gRPC port):
 * {@code /metrics} in the Prometheus text format (with an admin token when the broker has tokens), {@code /healthz} (the process is up) and {@code /readyz}
 * (it serves: the database answers, migrations are applied, it is not shutting down); every other path
 * goes to the web dashboard when there is one.
 */
public final class HttpEndpoints implements AutoCloseable {
    /** Why the broker is not ready, or null when it is. */
    @FunctionalInterface
    public interface Readiness {
        String notReadyBecause();
    }

    private final Server server;
    private final ServerConnector connector;

    private final Handler dashboard;

    private final Predicate<String> metricsToken;

    /**
     * @param metricsToken accepts the bearer token a scrape must send for /metrics, or null when the
     *                     broker runs open (no token needed)
     * @param tls          serve HTTPS with this, or null for plain HTTP
     * @param dashboard    serves every other path (the web dashboard), or null: then they are 404
     */
    public HttpEndpoints(String host, int port, BrokerMetrics metrics, Readiness readiness, Predicate<String> metricsToken,
                         SslContextFactory.Server tls, Handler dashboard) {
        this.dashboard = dashboard;
        this.metricsToken = metricsToken;
        QueuedThreadPool threads = new QueuedThreadPool(24, 2);
        threads.setName("jobwire-http");
        threads.setDaemon(true);
        server = new Server(threads);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        if (tls != null) {
            SecureRequestCustomizer secure = new SecureRequestCustomizer();
            secure.setSniHostCheck(false); // reached as 127.0.0.1 or by a name the certificate may not list
            http.addCustomizer(secure);
            connector = new ServerConnector(server, null, null, null, 1, 1,
                    new SslConnectionFactory(tls, "http/1.1"), new HttpConnectionFactory(http));
        } else {
            connector = new ServerConnector(server, null, null, null, 1, 1, new HttpConnectionFactory(http));
        }
        connector.setHost(host);
        connector.setPort(port);
        server.addConnector(connector);
        Handler operator = new Handler.Abstract.NonBlocking() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                return serveOperator(request, response, callback, metrics, readiness);
            }
        };
        server.setHandler(dashboard == null ? operator : new Handler.Wrapper(dashboard) {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                return serveOperator(request, response, callback, metrics, readiness) || super.handle(request, response, callback);
            }
        });
    }

    /** Serves the operator's addresses; false for any other path (when there is a dashboard, it serves those). */
    private boolean serveOperator(Request request, Response response, Callback callback, BrokerMetrics metrics,
                                  Readiness readiness) {
        String path = Request.getPathInContext(request);
        boolean operatorPath = path.equals("/metrics") || path.equals("/healthz") || path.equals("/readyz");
        if (!operatorPath && dashboard != null) {
            return false;
        }
        if (!request.getMethod().equals("GET") && !request.getMethod().equals("HEAD")) {
            return answer(response, callback, HttpStatus.METHOD_NOT_ALLOWED_405, "text/plain", "GET only\n");
        }
        if (path.equals("/metrics") && metricsToken != null) {
            String header = request.getHeaders().get(HttpHeader.AUTHORIZATION);
            String token = header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) ? null : header.substring(7).strip();
            if (token == null || !metricsToken.test(token)) {
                response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
                return answer(response, callback, HttpStatus.UNAUTHORIZED_401, "text/plain",
                        "send an admin token: Authorization: Bearer <token>\n");
            }
        }
        return switch (path) {
            case "/metrics" -> answer(response, callback, 200, "text/plain; version=0.0.4; charset=utf-8",
                    metrics.scrape());
            case "/healthz" -> answer(response, callback, 200, "text/plain", "ok\n");
            case "/readyz" -> {
                String why = readiness.notReadyBecause();
                yield why == null ? answer(response, callback, 200, "text/plain", "ready\n")
                        : answer(response, callback, HttpStatus.SERVICE_UNAVAILABLE_503, "text/plain",
                                "not ready: " + why + "\n");
            }
            default -> answer(response, callback, 404, "text/plain", "not found: " + path + "\n");
        };
    }

    private static boolean answer(Response response, Callback callback, int status, String type, String body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
        return true;
    }

    public void start() {
        try {
            server.start();
        } catch (Exception e) {
            throw new IllegalStateException("cannot serve HTTP on " + connector.getHost() + ":" + connector.getPort()
                    + " (--http-port): " + e.getMessage(), e);
        }
    }

    /** The bound port. */
    public int port() {
        return connector.getLocalPort();
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            // stopping: nothing left to do
        }
    }
}
