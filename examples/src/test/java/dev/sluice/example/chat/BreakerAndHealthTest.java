package dev.sluice.example.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.CircuitBreaker;
import dev.sluice.testing.TestDatabase;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The literature guard's breaker opening on a failing service and recovering, as the API and the
 * health endpoint show it. The breaker runs on a manual clock: the test moves it past the open
 * duration instead of waiting.
 */
class BreakerAndHealthTest {
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

  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private ChatApp app;
  private Http http;
  private String auth;

  @BeforeEach
  void start() throws Exception {
    app = ChatApp.start(TestApps.config(db), nanos::get);
    http = new Http(app.baseUri());
    auth = "Bearer " + http.token();
  }

  @AfterEach
  void stop() {
    if (app != null) {
      app.close();
    }
  }

  private HttpResponse<String> research() throws Exception {
    return http.post("/api/research", "{\"query\":\"sleep\"}", "Authorization", auth);
  }

  @Test
  void breaker_opensAfterFiveFailures_failsFast_andRecoversAfterTheOpenDuration()
      throws Exception {
    app.stub().mode(LiteratureStub.Mode.FAILING);
    HttpResponse<String> first = research();      // 3 attempts, 3 failures
    assertThat(first.statusCode()).isEqualTo(503);
    assertThat(Http.json(first).path("reason").asText()).isEqualTo("failed");
    HttpResponse<String> second = research();     // 2 more failures: the breaker opens
    assertThat(second.statusCode()).isEqualTo(503);
    assertThat(app.wiring().literatureBreaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
    long callsWhenOpened = app.stub().calls();
    assertThat(callsWhenOpened).isEqualTo(5);

    HttpResponse<String> fast = research();
    assertThat(fast.statusCode()).isEqualTo(503);
    assertThat(Http.json(fast).path("reason").asText()).isEqualTo("circuit_open");
    assertThat(fast.headers().firstValue("Retry-After")).hasValue("10");
    assertThat(app.stub().calls()).as("an open breaker does not call").isEqualTo(callsWhenOpened);

    HttpResponse<String> health = http.get("/api/system-health", "Authorization",
        "Bearer " + TestApps.ADMIN);
    assertThat(health.statusCode()).as("unhealthy answers 503").isEqualTo(503);
    JsonNode report = Http.json(health);
    assertThat(report.path("status").asText()).isEqualTo("unhealthy");
    JsonNode literature = component(report, "outbound:literature");
    assertThat(literature.path("figures").path("breakerState").asText()).isEqualTo("OPEN");
    assertThat(report.path("recommendations").toString()).contains("literature");

    app.stub().mode(LiteratureStub.Mode.NORMAL);
    nanos.addAndGet(Duration.ofSeconds(10).toNanos());
    HttpResponse<String> recovered = research();  // the half-open probe succeeds
    assertThat(recovered.statusCode()).as(recovered.body()).isEqualTo(200);
    assertThat(app.wiring().literatureBreaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
    JsonNode after = Http.json(http.get("/api/system-health", "Authorization",
        "Bearer " + TestApps.ADMIN));
    assertThat(component(after, "outbound:literature").path("figures").path("breakerState")
        .asText()).isEqualTo("CLOSED");
  }

  @Test
  void adminAction_resetBreakers_needsTheToken_andClosesTheBreaker() throws Exception {
    app.stub().mode(LiteratureStub.Mode.FAILING);
    research();
    research();
    assertThat(app.wiring().literatureBreaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
    String action = "{\"action\":\"reset-breakers\"}";
    assertThat(http.post("/api/system-health", action).statusCode()).isEqualTo(401);
    assertThat(http.post("/api/system-health", action, "Authorization", "Bearer wrong-token-0123456")
        .statusCode()).isEqualTo(401);
    assertThat(app.wiring().literatureBreaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
    HttpResponse<String> reset = http.post("/api/system-health", action, "Authorization",
        "Bearer " + TestApps.ADMIN);
    assertThat(reset.statusCode()).as(reset.body()).isEqualTo(200);
    assertThat(app.wiring().literatureBreaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
  }

  @Test
  void adminAction_configure_changesThePerIpChatLimitLive() throws Exception {
    String admin = "Bearer " + TestApps.ADMIN;
    HttpResponse<String> before = http.post("/api/system-health", "{\"action\":\"settings\"}",
        "Authorization", admin);
    assertThat(before.statusCode()).as(before.body()).isEqualTo(200);
    JsonNode chat = Json.MAPPER.readTree(before.body()).path("rateLimiters").path("chat");
    assertThat(chat.path("limit").asInt()).isEqualTo(5);
    assertThat(chat.path("period").asText()).isEqualTo("PT1M");

    HttpResponse<String> change = http.post("/api/system-health",
        "{\"action\":\"configure\",\"kind\":\"rate-limiter\",\"name\":\"chat\","
            + "\"settings\":{\"limit\":7}}", "Authorization", admin);
    assertThat(change.statusCode()).as(change.body()).isEqualTo(200);
    assertThat(app.wiring().chatPerIp.settings().limit()).isEqualTo(7);
    assertThat(app.wiring().chatPerIp.settings().period()).isEqualTo(Duration.ofMinutes(1));

    HttpResponse<String> typo = http.post("/api/system-health",
        "{\"action\":\"configure\",\"kind\":\"rate-limiter\",\"name\":\"chat\","
            + "\"settings\":{\"limti\":9}}", "Authorization", admin);
    assertThat(typo.statusCode()).as(typo.body()).isEqualTo(400);
    assertThat(typo.body()).contains("limti");
    assertThat(app.wiring().chatPerIp.settings().limit()).isEqualTo(7);
  }

  @Test
  void metrics_areScrapedInPrometheusFormat_fromThisHostOrWithTheToken() throws Exception {
    assertThat(research().statusCode()).isEqualTo(200);

    HttpResponse<String> local = http.get("/metrics");
    assertThat(local.statusCode()).as(local.body()).isEqualTo(200);
    assertThat(local.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/plain");
    assertThat(local.body())
        .contains("sluice_ratelimit_decisions_total{name=\"research\",outcome=\"allowed\"} 1.0")
        .contains("sluice_queue_active{name=\"chat-service\"}")
        .contains("sluice_breaker_state{name=\"literature\",state=\"closed\"} 1.0")
        .contains("sluice_health_score")
        .contains("sluice_http_requests_total{outcome=\"admitted\",rule=\"research\"}");
    // No user, token or address ever becomes a label.
    assertThat(local.body()).doesNotContain("127.0.0.1").doesNotContain(auth.substring(7));

    // Through a local reverse proxy the request is not "from this host": the token is needed.
    HttpResponse<String> proxied = http.get("/metrics", "X-Forwarded-For", "203.0.113.9");
    assertThat(proxied.statusCode()).isEqualTo(401);
    assertThat(proxied.body()).contains("\"error\":\"unauthorized\"");
    assertThat(http.get("/metrics", "X-Forwarded-For", "203.0.113.9", "Authorization",
        "Bearer wrong-token-0123456").statusCode()).isEqualTo(401);
    assertThat(http.get("/metrics", "X-Forwarded-For", "203.0.113.9", "Authorization",
        "Bearer " + TestApps.ADMIN).statusCode()).isEqualTo(200);
  }

  @Test
  void health_withoutTheAdminToken_isOnlyTheSummary() throws Exception {
    HttpResponse<String> r = http.get("/api/system-health");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode body = Http.json(r);
    assertThat(body.path("status").asText()).isEqualTo("healthy");
    assertThat(body.path("score").asInt()).isBetween(85, 100);
    assertThat(body.has("components")).isFalse();
    JsonNode full = Http.json(http.get("/api/system-health", "Authorization",
        "Bearer " + TestApps.ADMIN));
    assertThat(component(full, "queue:chat-service").path("figures").path("maxConcurrent")
        .asInt()).isEqualTo(20);
    assertThat(component(full, "db").isMissingNode()).isFalse();
  }

  private static JsonNode component(JsonNode report, String name) {
    for (JsonNode c : report.path("components")) {
      if (c.path("name").asText().equals(name)) {
        return c;
      }
    }
    return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
  }
}
