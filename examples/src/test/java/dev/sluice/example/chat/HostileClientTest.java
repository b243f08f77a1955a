package dev.sluice.example.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.ErrorStats;
import dev.sluice.NanoClock;
import dev.sluice.testing.Await;
import dev.sluice.testing.TestDatabase;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The app against a hostile client, over raw sockets: aborted bodies, odd spellings of a path,
 * wrong methods, requests Jetty itself refuses, text PostgreSQL cannot store. Each client address
 * is its own loopback address (Linux routes all of 127/8 to lo), so per-IP limits apply to each
 * part on its own.
 */
class HostileClientTest {
  private static TestDatabase db;

  @BeforeAll
  static void createDatabase() {
    db = TestApps.database();
  }

  @AfterAll
  static void dropDatabase() {
    if (db != null) {
      db.close();
    }
  }

  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private ChatApp app;
  private Http http;

  /** Fails the way a bug in a handler does, with internal details in the exception. */
  static final class Boom extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) {
      throw new IllegalStateException("secret internal detail: table chat_app.sessions");
    }
  }

  @BeforeEach
  void start() throws Exception {
    app = ChatApp.start(TestApps.config(db), NanoClock.system(), Map.of("/test/boom", new Boom()),
        SluiceWiring.MAX_QUEUED);
    http = new Http(app.baseUri());
  }

  @AfterEach
  void stop() {
    if (app != null) {
      app.close();
    }
  }

  @Test
  void clientAborts_whileSendingTheBody_areCountedApart_andHealthStaysHealthy()
      throws Exception {
    assertHealthy();
    String chatter1 = token(address(2), null);
    String chatter2 = token(address(3), null);
    // Ten sessions from one address (its limit is 10 a minute), five chats from each of two
    // more (5 a minute each): every request is within its limits, announces 200 bytes, sends
    // part and hangs up. One at a time, so none waits in the queue behind another.
    int expected = 0;
    for (int i = 0; i < 10; i++) {
      abort(address(1), "/api/session", null);
      awaitAborts(++expected);
    }
    for (int i = 0; i < 5; i++) {
      abort(address(2), "/api/chat", chatter1);
      awaitAborts(++expected);
      abort(address(3), "/api/chat", chatter2);
      awaitAborts(++expected);
    }
    assertThat(clientAborts()).as("each abort counted once").isEqualTo(20);
    assertHealthy();
    ErrorStats api = app.wiring().errors.stats("api");
    assertThat(api.failures()).as("a client abort is not a server error").isZero();
    // The aborted chats cost their users nothing: each still has its 3 daily chats.
    HttpResponse r = chat(address(4), chatter1, "sleep");
    assertThat(r.status()).as(r.text()).isEqualTo(200);
    assertThat(json(r.raw()).path("quota").path("used").asInt()).isEqualTo(1);
  }

  @Test
  void pathSpellingsOfChat_areAuthenticatedAndHandledAsChat_orRefusedAsJson() throws Exception {
    String pro = proToken();
    List<String> spellings = List.of("/api/chat;x=1", "/api/%63hat", "/api/./chat",
        "/api/x/../chat", "/api/chat/", "/api//chat", "/api/chat%2F", "/api/%2e/chat",
        "/api/..;/api/chat", "/API/chat");
    int n = 10;
    for (String path : spellings) {
      InetAddress from = address(n++);
      SocketHttp.Response anonymous = SocketHttp.send(from, app.baseUri(), "POST", path,
          body("{\"message\":\"sleep\"}"), TIMEOUT, "Content-Type", "application/json");
      assertJson(anonymous, path);
      assertThat(anonymous.status()).as(path + " without a token").isIn(401, 400, 404, 405);

      SocketHttp.Response signedIn = SocketHttp.send(from, app.baseUri(), "POST", path,
          body("{\"message\":\"sleep\"}"), TIMEOUT, "Content-Type", "application/json",
          "Authorization", "Bearer " + pro);
      assertJson(signedIn, path);
      if (anonymous.status() == 401) {
        assertThat(anonymous.header("WWW-Authenticate")).hasValue("Bearer");
        assertThat(signedIn.status()).as(path + " " + signedIn.text()).isEqualTo(200);
        assertThat(signedIn.text()).contains("Sleep duration and memory consolidation");
      } else {
        assertThat(signedIn.status()).as(path + " with a token").isEqualTo(anonymous.status());
      }
    }
  }

  @Test
  void pathSpellings_theContainerNormalizes_needAToken() throws Exception {
    int n = 30;
    for (String path : List.of("/api/chat;x=1", "/api/%63hat", "/api/./chat")) {
      SocketHttp.Response r = SocketHttp.send(address(n++), app.baseUri(), "POST", path,
          body("{\"message\":\"sleep\"}"), TIMEOUT, "Content-Type", "application/json");
      assertThat(r.status()).as(path).isEqualTo(401);
      assertThat(json(r).path("error").asText()).isEqualTo("unauthorized");
    }
  }

  @Test
  void wrongMethods_are405JsonWithAllow_andCostNoLimitNorQueuePlace() throws Exception {
    InetAddress from = address(40);
    long admitted = app.wiring().queue.stats().admitted();
    Map<String, String> allowed = Map.of("GET /api/chat", "POST", "GET /api/export", "POST",
        "PUT /api/session", "POST", "DELETE /api/research", "POST",
        "PUT /api/system-health", "GET, HEAD, POST", "POST /dashboard", "GET, HEAD",
        "OPTIONS /api/chat", "POST");
    for (Map.Entry<String, String> e : allowed.entrySet()) {
      String[] mp = e.getKey().split(" ");
      for (int i = 0; i < 3; i++) {
        SocketHttp.Response r = SocketHttp.send(from, app.baseUri(), mp[0], mp[1], null, TIMEOUT,
            "Authorization", "Bearer " + "A".repeat(43));
        assertThat(r.status()).as(e.getKey()).isEqualTo(405);
        assertThat(r.header("Allow")).as(e.getKey()).hasValue(e.getValue());
        assertThat(json(r).path("error").asText()).isEqualTo("method_not_allowed");
      }
    }
    // Nine wrong-method chats later, this address still has its five chats a minute.
    for (int i = 0; i < 5; i++) {
      SocketHttp.Response r = SocketHttp.send(from, app.baseUri(), "POST", "/api/chat",
          body("{\"message\":\"sleep\"}"), TIMEOUT, "Content-Type", "application/json");
      assertThat(r.status()).as("chat " + i).isEqualTo(401);
    }
    assertThat(SocketHttp.send(from, app.baseUri(), "POST", "/api/chat",
        body("{\"message\":\"sleep\"}"), TIMEOUT, "Content-Type", "application/json").status())
        .isEqualTo(429);
    assertThat(app.wiring().queue.stats().admitted()).isEqualTo(admitted);
  }

  @Test
  void everyError_isJson_withoutStackTraceOrExceptionText() throws Exception {
    InetAddress from = address(50);
    assertError(SocketHttp.send(from, app.baseUri(), "GET", "/nope", null, TIMEOUT), 404,
        "not_found");
    assertError(SocketHttp.send(from, app.baseUri(), "GET", "/api/nope", null, TIMEOUT), 404,
        "not_found");
    assertError(SocketHttp.send(from, app.baseUri(), "GET", "/static/../../etc/passwd", null,
        TIMEOUT), 400, "bad_request");
    assertError(SocketHttp.send(from, app.baseUri(), "GET", "/test/boom", null, TIMEOUT,
        "Accept", "text/html"), 500, "internal_error");
    // Refused by Jetty before any servlet: a bad escape, an ambiguous path, huge headers.
    assertError(SocketHttp.send(from, app.baseUri(), "GET", "/api/%zz", null, TIMEOUT), 400,
        "bad_request");
    assertError(SocketHttp.send(from, app.baseUri(), "GET", "/api/..%2Fchat", null, TIMEOUT),
        400, "bad_request");
    assertError(SocketHttp.send(from, app.baseUri(), "GET", "/", null, TIMEOUT,
        "X-Padding", "p".repeat(20_000)), 431, "headers_too_large");
  }

  @Test
  void textPostgresCannotStore_is400NamingTheField_beforeAnyOutboundCallOrQuotaCharge()
      throws Exception {
    InetAddress from = address(60);
    String token = token(from, null);
    long calls = app.stub().calls();
    HttpResponse nul = chat(from, token, "sleep\u0000memory");
    assertThat(nul.status()).isEqualTo(400);
    assertThat(json(nul.raw()).path("message").asText()).contains("'message'", "NUL");
    // A lone surrogate, as JSON escapes allow: the body is ASCII, the parsed text is not valid.
    SocketHttp.Response lone = SocketHttp.send(from, app.baseUri(), "POST", "/api/research",
        body("{\"query\":\"sleep \\ud800 memory\"}"), TIMEOUT, "Content-Type",
        "application/json", "Authorization", "Bearer " + token);
    assertThat(lone.status()).as(lone.text()).isEqualTo(400);
    assertThat(json(lone).path("message").asText()).contains("'query'", "surrogate");
    assertThat(app.stub().calls()).as("no outbound call was made").isEqualTo(calls);

    HttpResponse ok = chat(from, token, "sleep and memory");
    assertThat(ok.status()).as(ok.text()).isEqualTo(200);
    assertThat(json(ok.raw()).path("quota").path("used").asInt())
        .as("the refused chat cost no quota").isEqualTo(1);
  }

  @Test
  void adminToken_isABearerToken_forSessionsAsForHealth_andTheBannerSaysSo() throws Exception {
    List<String> banner = ChatApp.banner(app, null, true);
    assertThat(String.join("\n", banner)).contains("Authorization: Bearer")
        .doesNotContain("X-Admin-Token");
    assertThat(http.post("/api/session", "{\"plan\":\"pro\"}", "X-Admin-Token", TestApps.ADMIN)
        .statusCode()).isEqualTo(403);
    java.net.http.HttpResponse<String> pro = http.post("/api/session", "{\"plan\":\"pro\"}",
        "Authorization", "Bearer " + TestApps.ADMIN);
    assertThat(pro.statusCode()).isEqualTo(201);
    assertThat(Http.json(pro).path("plan").asText()).isEqualTo("pro");
    assertThat(http.get("/api/system-health", "Authorization", "Bearer " + TestApps.ADMIN)
        .body()).contains("\"components\"");
  }

  // ---- helpers ----

  /** A response and its text, from {@link SocketHttp}. */
  record HttpResponse(SocketHttp.Response raw) {
    int status() {
      return raw.status();
    }

    String text() {
      return raw.text();
    }
  }

  private HttpResponse chat(InetAddress from, String token, String message) throws IOException {
    return new HttpResponse(SocketHttp.send(from, app.baseUri(), "POST", "/api/chat",
        body("{\"message\":" + Json.MAPPER.writeValueAsString(message) + "}"), TIMEOUT,
        "Content-Type", "application/json", "Authorization", "Bearer " + token));
  }

  private String token(InetAddress from, String plan) throws IOException {
    SocketHttp.Response r = SocketHttp.send(from, app.baseUri(), "POST", "/api/session",
        plan == null ? null : body("{\"plan\":\"" + plan + "\"}"), TIMEOUT,
        "Content-Type", "application/json", "Authorization", "Bearer " + TestApps.ADMIN);
    assertThat(r.status()).as(r.text()).isEqualTo(201);
    return json(r).path("token").asText();
  }

  private String proToken() throws IOException {
    return token(address(9), "pro");
  }

  /** Announces a 200-byte body, sends 40 bytes of it, and closes the connection. */
  private void abort(InetAddress from, String path, String token) throws IOException {
    try (Socket s = new Socket()) {
      s.bind(new InetSocketAddress(from, 0));
      s.connect(new InetSocketAddress("127.0.0.1", app.baseUri().getPort()), 5_000);
      OutputStream out = s.getOutputStream();
      out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/json\r\nContent-Length: 200\r\n"
          + (token == null ? "" : "Authorization: Bearer " + token + "\r\n") + "\r\n"
          + "{\"message\":\"does sleep affect memory").getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }
  }

  private void awaitAborts(int n) throws InterruptedException {
    await(() -> clientAborts() >= n, () -> n + " client aborts counted: " + clientAborts()
        + " " + app.wiring().errors.snapshot());
  }

  /**
   * Client aborts in the health report: every component's {@code clientAborts} figure (the
   * app's, for aborts its handlers saw; a filter's, for those it saw), plus the requests the
   * Sluice filter counts as abandoned (the client left while the request waited in the queue).
   */
  private long clientAborts() {
    try {
      JsonNode report = Http.json(http.get("/api/system-health", "Authorization",
          "Bearer " + TestApps.ADMIN));
      long sum = 0;
      for (JsonNode c : report.path("components")) {
        sum += c.path("figures").path("clientAborts").asLong(0);
        sum += c.path("figures").path("abandoned").asLong(0);
      }
      return sum;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private void assertHealthy() throws Exception {
    java.net.http.HttpResponse<String> r = http.get("/api/system-health");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(Http.json(r).path("status").asText()).as(r.body()).isEqualTo("healthy");
  }

  private static void assertError(SocketHttp.Response r, int status, String error)
      throws IOException {
    assertThat(r.status()).as(r.text()).isEqualTo(status);
    assertJson(r, error);
    assertThat(json(r).path("error").asText()).as(r.text()).isEqualTo(error);
    assertThat(r.text()).doesNotContain("Exception", "secret", "at org.", "at dev.", "<html",
        "jetty", "Jetty");
  }

  private static void assertJson(SocketHttp.Response r, String what) throws IOException {
    assertThat(r.header("Content-Type").orElse("")).as(what + ": " + r.text())
        .startsWith("application/json");
    assertThat(json(r).isObject()).isTrue();
  }

  private static JsonNode json(SocketHttp.Response r) throws IOException {
    return Json.MAPPER.readTree(r.body());
  }

  private static byte[] body(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static InetAddress address(int last) throws IOException {
    return InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) last});
  }

  /** Waits for a condition the server reaches on its own threads, bounded. */
  private static void await(BooleanSupplier done, Supplier<String> what)
      throws InterruptedException {
    Await.until(done, Duration.ofSeconds(10), what.get());
  }
}
