package io.jobwire.broker.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import io.jobwire.broker.auth.Role;
import io.jobwire.broker.auth.TokenStore;
import io.jobwire.broker.testing.BrokerFixture;
import io.jobwire.broker.testing.TestCertificates;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard's HTTP rules without a browser: an open broker answers only loopback names (DNS
 * rebinding), every page has the security headers, login sends to local addresses only and gives a new
 * session id, /metrics wants an admin token when the broker has tokens, and under TLS the cookie is Secure.
 */
class DashboardHttpTest {
    private static final String SHOP = TokenStore.newToken();
    private static final String OPS = TokenStore.newToken();

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A raw HTTP/1.1 GET with any Host header (the JDK's client will not send a foreign one). */
    private static String rawGet(int port, String host, String path) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            OutputStream out = socket.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void anOpenBrokerAnswersOnlyLoopbackNamesAndEveryPageCarriesTheSecurityHeaders() throws Exception {
        int httpPort = freePort();
        try (BrokerFixture broker = BrokerFixture.start(c -> c.httpPort(httpPort))) {
            String rebound = rawGet(httpPort, "attacker.example:" + httpPort, "/jobs");
            assertThat(rebound).startsWith("HTTP/1.1 403");
            String page = rawGet(httpPort, "127.0.0.1:" + httpPort, "/jobs");
            assertThat(page).startsWith("HTTP/1.1 200");
            String headers = page.substring(0, page.indexOf("\r\n\r\n")).toLowerCase();
            assertThat(headers).contains("content-security-policy: default-src 'none'; script-src 'self'; style-src 'self'")
                    .doesNotContain("unsafe-inline").doesNotContain("server: jetty");
            assertThat(headers).contains("x-frame-options: deny").contains("x-content-type-options: nosniff");
            assertThat(headers).containsPattern("set-cookie: jobwire_session=[a-z0-9_-]{43}; ")
                    .containsPattern("set-cookie: jobwire_session=.*; httponly").containsPattern("set-cookie: jobwire_session=.*; samesite=strict")
                    .doesNotContain("secure");
            assertThat(page).doesNotContain("<script>").contains("<script src=\"/static/dashboard.js\" defer></script>");
            assertThat(rawGet(httpPort, "localhost:" + httpPort, "/workers")).startsWith("HTTP/1.1 200");
            assertThat(rawGet(httpPort, "attacker.example", "/metrics")).startsWith("HTTP/1.1 200"); // not the dashboard
        }
    }

    @Test
    void withTokensLoginIsNeededRedirectsStayLocalMetricsWantAnAdminAndTlsMakesTheCookieSecure(@TempDir Path dir)
            throws Exception {
        TestCertificates.Pem cert = TestCertificates.create(dir, "broker");
        int httpPort = freePort();
        try (BrokerFixture broker = BrokerFixture.start(c -> c.httpPort(httpPort)
                .tlsCert(cert.certificate()).tlsKey(cert.privateKey())
                .tokens(String.join("\n", TokenStore.line(SHOP, "shop", List.of(Role.SUBMIT), List.of()),
                        TokenStore.line(OPS, "ops", List.of(Role.ADMIN), List.of()))))) {
            HttpClient http = HttpClient.newBuilder().sslContext(trusting(cert.certificate())).build();
            String base = "https://127.0.0.1:" + httpPort;

            HttpResponse<String> anonymous = http.send(get(base + "/jobs?state=FAILED").build(), HttpResponse.BodyHandlers.ofString());
            assertThat(anonymous.statusCode()).isEqualTo(303);
            assertThat(anonymous.headers().firstValue("location").orElse("")).endsWith("/login?next=%2Fjobs%3Fstate%3DFAILED");

            HttpResponse<String> form = http.send(get(base + "/login?next=//attacker.example/x").build(),
                    HttpResponse.BodyHandlers.ofString());
            String before = cookie(form);
            assertThat(form.headers().allValues("set-cookie").get(0)).contains("Secure").contains("HttpOnly")
                    .contains("SameSite=Strict");
            String csrf = field(form.body(), "csrf");
            assertThat(field(form.body(), "next")).isEqualTo("/");

            HttpResponse<String> forged = http.send(post(base + "/login", before, "csrf=nope&token=" + SHOP).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(forged.statusCode()).isEqualTo(403);
            HttpResponse<String> jobToken = http.send(post(base + "/login", before, "csrf=" + csrf + "&token=jwj_1_1_abc").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(jobToken.statusCode()).isEqualTo(401);
            HttpResponse<String> loggedIn = http.send(post(base + "/login", before,
                    "csrf=" + csrf + "&next=%2F%2Fattacker.example&token=" + SHOP).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(loggedIn.statusCode()).isEqualTo(303);
            assertThat(loggedIn.headers().firstValue("location").orElse("")).isEqualTo("/");
            String after = cookie(loggedIn);
            assertThat(after).isNotEqualTo(before);
            assertThat(http.send(get(base + "/").header("Cookie", "jobwire_session=" + after).build(),
                    HttpResponse.BodyHandlers.ofString()).body()).contains("id=\"who\">shop<");
            assertThat(http.send(get(base + "/").header("Cookie", "jobwire_session=" + before).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(303);

            assertThat(http.send(get(base + "/metrics").build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(401);
            assertThat(http.send(get(base + "/metrics").header("Authorization", "Bearer " + SHOP).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(401);
            HttpResponse<String> scraped = http.send(get(base + "/metrics").header("Authorization", "Bearer " + OPS).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(scraped.statusCode()).isEqualTo(200);
            assertThat(scraped.body()).contains("jobwire_worker_streams");
            assertThat(http.send(get(base + "/healthz").build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        }
    }

    private static HttpRequest.Builder get(String url) {
        return HttpRequest.newBuilder(URI.create(url));
    }

    private static HttpRequest.Builder post(String url, String session, String form) {
        return HttpRequest.newBuilder(URI.create(url)).header("Cookie", "jobwire_session=" + session)
                .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(form));
    }

    private static String cookie(HttpResponse<?> response) {
        Matcher m = Pattern.compile("jobwire_session=([^;]*)").matcher(String.join("\n", response.headers().allValues("set-cookie")));
        assertThat(m.find()).as("a session cookie is set").isTrue();
        return m.group(1);
    }

    private static String field(String html, String name) {
        Matcher m = Pattern.compile("name=\"" + name + "\" value=\"([^\"]*)\"").matcher(html);
        assertThat(m.find()).as("a field " + name).isTrue();
        return m.group(1);
    }

    private static SSLContext trusting(Path certificate) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(certificate)) {
            trust.setCertificateEntry("broker", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, factory.getTrustManagers(), null);
        return context;
    }
}
