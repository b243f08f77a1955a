package dev.sluice.example.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The load generator against the real app, and its exit status against misbehaving servers. */
class LoadGeneratorTest {

  @Test
  void browserConsoleScenario_tenConcurrentChats_someAnsweredSomeLimited_noCrash()
      throws Exception {
    try (ChatApp app = TestDb.startApp()) {
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
    try (ChatApp app = TestDb.startApp()) {
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
  void overload_shortRun_staysStanding() throws Exception {
    try (ChatApp app = TestDb.startApp()) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int exit = LoadGenerator.run(new String[] {"--scenario", "overload", "--clients", "40",
          "--duration", "2s", "--sessions", "5", "--base-url", app.baseUri().toString(),
          "--no-progress"}, print(out), print(new ByteArrayOutputStream()));
      assertThat(exit).as(out.toString(StandardCharsets.UTF_8)).isZero();
      HttpHealth.assertStanding(app);
    }
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

  private static PrintStream print(ByteArrayOutputStream out) {
    return new PrintStream(out, true, StandardCharsets.UTF_8);
  }

  /** After a load, the app still answers. */
  static final class HttpHealth {
    static void assertStanding(ChatApp app) throws Exception {
      Http http = new Http(app.baseUri());
      assertThat(http.get("/api/system-health").statusCode()).isIn(200, 503);
      assertThat(http.get("/").statusCode()).isEqualTo(200);
      assertThat(URI.create(app.baseUri().toString()).getHost()).isEqualTo("127.0.0.1");
    }
  }
}
