package dev.sluice.example.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.sluice.NanoClock;
import dev.sluice.RequestQueue;
import dev.sluice.testing.TestDatabase;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The load generator against the real app, and its exit status against misbehaving servers. */
class LoadGeneratorTest {
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


  @Test
  void browserConsoleScenario_tenConcurrentChats_someAnsweredSomeLimited_noCrash()
      throws Exception {
    try (ChatApp app = TestApps.startApp(db)) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int exit = LoadGenerator.run(new String[] {"--scenario", "browser-console", "--base-url",
          app.baseUri().toString(), "--no-progress"}, print(out), print(new ByteArrayOutputStream()));
      String report = out.toString(StandardCharsets.UTF_8);
      assertThat(exit).as(report).isZero();
      assertThat(report).contains("PASS", "p50", "429");

      LoadGenerator.Result r = LoadGenerator.run(new LoadGenerator.Options(app.baseUri(), 10, 10,
          Duration.ZERO, "/api/chat", 1, false), print(new ByteArrayOutputStream()));
      // A second browser on the same IP: the per-IP budget of 5/min is spent, all limited.
      assertThat(r.count(429)).isEqualTo(10);
      assertThat(r.passed()).isTrue();
    }
  }

  @Test
  void browserConsoleScenario_countsExactly() throws Exception {
    try (ChatApp app = TestApps.startApp(db)) {
      LoadGenerator.Result r = LoadGenerator.run(LoadGenerator.parse(new String[] {
          "--base-url", app.baseUri().toString(), "--no-progress"}),
          print(new ByteArrayOutputStream()));
      // 10 chats by one user from one IP: 5 pass the per-IP limit, 3 of those fit the free
      // quota; the rest are 429 (rate limited or quota exceeded). Nothing else.
      assertThat(r.count(200)).isEqualTo(3);
      assertThat(r.count(429)).isEqualTo(7);
      assertThat(r.statuses().keySet()).containsOnly(200, 429);
      assertThat(r.errors()).isEmpty();
    }
  }

  @Test
  void overload_usersOnTheirOwnAddresses_answersOnly200_429_503_withinTheCaps_andStaysHealthy()
      throws Exception {
    // No waiting room in the queue, and a literature service that takes 1 s a call: each user's
    // two admitted chats hold their places for 2 s or more, so a third one at the same time is
    // shed (503) whatever the machine's speed, and the run stays short.
    try (ChatApp app = ChatApp.start(TestApps.config(db), NanoClock.system(), Map.of(), 0)) {
      Http http = new Http(app.baseUri());
      assertThat(http.post("/stub/control", "{\"mode\":\"slow\",\"delayMs\":1000}")
          .statusCode()).isEqualTo(200);
      // Three users, each from its own loopback address, four clients each, for 2 s. Each
      // address has 5 chats a minute through the per-IP limit, each user 3 a day through the
      // quota (refunded when shed) and 2 at once through the queue.
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      LoadGenerator.Result r = LoadGenerator.run(new LoadGenerator.Options(app.baseUri(), 12, 0,
          Duration.ofSeconds(2), "/api/chat", 3, false, 3), print(out));
      LoadGenerator.report(r, print(out));
      String report = out.toString(StandardCharsets.UTF_8);

      assertThat(r.errors()).as(report).isEmpty();
      assertThat(r.badServerErrors()).as("every 5xx is a 503 with Retry-After: " + report)
          .isZero();
      assertThat(r.statuses().keySet()).as(report).containsExactlyInAnyOrder(200, 429, 503);
      assertThat(r.reasons()).as(report).containsKeys("429 rate_limited", "503 overloaded");
      assertThat(r.reasons().keySet()).as(report).isSubsetOf("429 rate_limited",
          "429 quota_exceeded", "503 overloaded");
      assertThat(r.count(200)).as("at most 3 chats a day for each of 3 users").isBetween(1L, 9L);

      ApiTraffic traffic = app.wiring().traffic;
      assertThat(traffic.peakInFlight()).as("admitted at once, all users")
          .isBetween(1, SluiceWiring.MAX_CONCURRENT);
      assertThat(traffic.peakInFlightPerUser()).as("admitted at once, one user").isBetween(1, 2);
      RequestQueue.Stats<String> queue = app.wiring().queue.stats();
      assertThat(queue.active()).isZero();
      assertThat(queue.queued()).isZero();
      assertThat(app.wiring().errors.stats("api").failures()).as("no server error").isZero();

      assertThat(http.post("/stub/control", "{\"mode\":\"normal\"}").statusCode())
          .isEqualTo(200);
      java.net.http.HttpResponse<String> health = http.get("/api/system-health");
      assertThat(health.statusCode()).as(health.body()).isEqualTo(200);
      assertThat(Http.json(health).path("status").asText()).isIn("healthy", "degraded");
      // A new user from an address the load did not use is served at once.
      SocketHttp.Response session = SocketHttp.send(loopback(100), app.baseUri(), "POST",
          "/api/session", null, Duration.ofSeconds(10));
      assertThat(session.status()).as(session.text()).isEqualTo(201);
      String token = Json.MAPPER.readTree(session.body()).path("token").asText();
      SocketHttp.Response chat = SocketHttp.send(loopback(100), app.baseUri(), "POST",
          "/api/chat", "{\"message\":\"sleep\"}".getBytes(StandardCharsets.UTF_8),
          Duration.ofSeconds(30), "Content-Type", "application/json", "Authorization",
          "Bearer " + token);
      assertThat(chat.status()).as(chat.text()).isEqualTo(200);
    }
  }

  @Test
  void report_namesEachConnectionErrorsTypeAndMessage() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Map<String, Long> errors = new TreeMap<>();
    for (int i = 0; i < 7; i++) {
      errors.put(LoadGenerator.describe(new IOException("reason " + i + "\n  detail")), 1L + i);
    }
    LoadGenerator.report(new LoadGenerator.Result(Map.of(200, 1L), Map.of(), errors, 0,
        new long[] {5}, Duration.ofSeconds(1)), print(out));
    String report = out.toString(StandardCharsets.UTF_8);
    assertThat(report).contains("IOException: reason 0 detail", "IOException: reason 4 detail",
        "... and 2 more kinds", "FAIL").doesNotContain("reason 5");
  }

  @Test
  void exitStatus_isOneOnA500_zeroOnA503WithRetryAfter_oneOnConnectionErrors()
      throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(),
        0), 0);
    server.createContext("/api/session", ex -> {
      byte[] b = "{\"token\":\"t\"}".getBytes(StandardCharsets.UTF_8);
      ex.sendResponseHeaders(201, b.length);
      ex.getResponseBody().write(b);
      ex.close();
    });
    server.createContext("/api/chat", ex -> {
      ex.getResponseHeaders().add("Retry-After", "1");
      ex.sendResponseHeaders(503, -1);
      ex.close();
    });
    server.createContext("/api/research", ex -> {
      ex.sendResponseHeaders(500, -1);
      ex.close();
    });
    server.start();
    try {
      String base = "http://127.0.0.1:" + server.getAddress().getPort() + "/";
      assertThat(run("--base-url", base, "--requests", "4", "--clients", "2")).isZero();
      assertThat(run("--base-url", base, "--requests", "4", "--clients", "2", "--path",
          "/api/research")).isEqualTo(1);
    } finally {
      server.stop(0);
    }
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    assertThat(run("--base-url", "http://127.0.0.1:" + closedPort + "/")).isEqualTo(1);
    assertThat(run("--scenario", "nope")).isEqualTo(2);
  }

  private static int run(String... args) {
    String[] all = new String[args.length + 1];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--no-progress";
    return LoadGenerator.run(all, print(new ByteArrayOutputStream()),
        print(new ByteArrayOutputStream()));
  }

  private static InetAddress loopback(int last) throws IOException {
    return InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) last});
  }

  private static PrintStream print(ByteArrayOutputStream out) {
    return new PrintStream(out, true, StandardCharsets.UTF_8);
  }
}
