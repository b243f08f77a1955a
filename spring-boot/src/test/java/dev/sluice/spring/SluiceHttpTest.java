package dev.sluice.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.testing.Await;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.json.JsonParserFactory;
import org.springframework.boot.test.context.SpringBootTest;

/** The starter in a real application on embedded Tomcat, driven over HTTP. */
@SpringBootTest(classes = TestApp.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
        "sluice.rules[0].name=limited",
        "sluice.rules[0].paths=/api/limited",
        "sluice.rules[0].methods=GET",
        "sluice.rules[0].per-ip.limit=2",
        "sluice.rules[0].per-ip.period=1h",
        "sluice.rules[1].name=slow",
        "sluice.rules[1].paths=/api/slow",
        "sluice.rules[1].queue-priority=work",
        "sluice.queue.max-concurrent=1",
        "sluice.queue.max-queued=5",
        "sluice.queue.timeout=30s",
        "management.endpoints.web.exposure.include=health,sluice",
        "management.endpoint.health.show-details=always",
    })
class SluiceHttpTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  @Value("${local.server.port}")
  int port;

  @Autowired
  SluiceComponents components;

  @Autowired
  TestApp.Gate gate;

  @Autowired
  MeterRegistry meters;

  private final HttpClient http = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeEach
  void openGate() {
    gate.entered = new CountDownLatch(1);
    gate.release = new CountDownLatch(1);
  }

  @Test
  void limitedRoute_answers429WithRateLimitHeaders_afterTheLimit() throws Exception {
    HttpResponse<String> first = get("/api/limited");
    HttpResponse<String> second = get("/api/limited");
    HttpResponse<String> third = get("/api/limited");

    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.body()).isEqualTo("ok");
    assertThat(first.headers().firstValue("RateLimit-Policy")).hasValue("\"limited\";q=2;w=3600");
    assertThat(first.headers().firstValue("RateLimit")).hasValue("\"limited\";r=1;t=1800");
    assertThat(second.statusCode()).isEqualTo(200);
    assertThat(third.statusCode()).isEqualTo(429);
    // The clock stands still (a ManualClock bean): one call back after exactly 30 minutes.
    assertThat(third.headers().firstValue("Retry-After")).hasValue("1800");
    assertThat(third.headers().firstValue("RateLimit-Policy")).hasValue("\"limited\";q=2;w=3600");
    assertThat(third.headers().firstValue("RateLimit")).hasValue("\"limited\";r=0;t=3600");
    Map<String, Object> body = json(third.body());
    assertThat(body).containsEntry("error", "rate_limited").containsEntry("policy", "limited");
    // Unmatched routes are not limited.
    assertThat(get("/api/open").statusCode()).isEqualTo(200);
  }

  @Test
  void queuedRoute_waitsWhileTheCapIsFull_thenIsAdmitted() throws Exception {
    RequestQueue<String> queue = components.queue().orElseThrow();
    long admittedBefore = queue.stats().admitted();
    CompletableFuture<HttpResponse<String>> holder = getAsync("/api/slow");
    assertThat(gate.entered.await(WAIT.toSeconds(), TimeUnit.SECONDS))
        .as("first request reached the handler").isTrue();

    CompletableFuture<HttpResponse<String>> waiter = getAsync("/api/slow");
    Await.until(() -> queue.stats().queued() == 1, WAIT, "the second request to be queued");
    assertThat(queue.stats().active()).isEqualTo(1);
    assertThat(waiter).isNotDone();

    gate.release.countDown();
    HttpResponse<String> a = holder.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    HttpResponse<String> b = waiter.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(a.statusCode()).isEqualTo(200);
    assertThat(a.body()).isEqualTo("done");
    assertThat(b.statusCode()).isEqualTo(200);
    assertThat(b.body()).isEqualTo("done");
    Await.until(() -> queue.stats().active() == 0, WAIT, "both permits to be released");
    assertThat(queue.stats().queued()).isZero();
    assertThat(queue.stats().admitted()).isEqualTo(admittedBefore + 2);
  }

  @Test
  @SuppressWarnings("unchecked")
  void healthEndpoint_showsSluicesIndicator() throws Exception {
    HttpResponse<String> r = get("/actuator/health");
    assertThat(r.statusCode()).isEqualTo(200);
    Map<String, Object> components = (Map<String, Object>) json(r.body()).get("components");
    Map<String, Object> sluice = (Map<String, Object>) components.get("sluice");
    assertThat(sluice).containsEntry("status", "UP");
    Map<String, Object> details = (Map<String, Object>) sluice.get("details");
    assertThat(details).containsEntry("status", "healthy");
    assertThat(((Number) details.get("score")).intValue()).isEqualTo(100);
    Map<String, Object> parts = (Map<String, Object>) details.get("components");
    assertThat(parts).containsKeys("filter", "queue:sluice", "ratelimit:limited",
        "breaker:downstream");
  }

  @Test
  @SuppressWarnings("unchecked")
  void sluiceEndpoint_readsTheSettingsOfEachLimiterQueueAndBreaker() throws Exception {
    HttpResponse<String> r = get("/actuator/sluice");
    assertThat(r.statusCode()).isEqualTo(200);
    Map<String, Object> all = json(r.body());
    Map<String, Object> limiters = (Map<String, Object>) all.get("rateLimiters");
    assertThat((Map<String, Object>) limiters.get("limited"))
        .containsEntry("period", "PT1H").containsEntry("emissionInterval", "PT30M");
    assertThat(((Number) ((Map<String, Object>) limiters.get("limited")).get("limit")).intValue())
        .isEqualTo(2);
    Map<String, Object> queue = (Map<String, Object>) all.get("queue");
    assertThat(queue).containsEntry("name", "sluice").containsEntry("timeout", "PT30S")
        .containsEntry("priorities", List.of("work")).containsEntry("bypassed", false);
    assertThat(((Number) queue.get("maxConcurrent")).intValue()).isEqualTo(1);
    assertThat(((Number) queue.get("maxQueued")).intValue()).isEqualTo(5);
    Map<String, Object> breakers = (Map<String, Object>) all.get("circuitBreakers");
    assertThat((Map<String, Object>) breakers.get("downstream"))
        .containsEntry("state", "CLOSED");
    assertThat(all).containsEntry("store", "memory");
    List<Object> rules = (List<Object>) all.get("rules");
    assertThat(rules).hasSize(2);
    assertThat((Map<String, Object>) rules.get(1)).containsEntry("queuePriority", "work");

    HttpResponse<String> one = get("/actuator/sluice/rate-limiter/limited");
    assertThat(one.statusCode()).isEqualTo(200);
    assertThat(json(one.body())).containsEntry("period", "PT1H");
    assertThat(get("/actuator/sluice/rate-limiter/nope").statusCode()).isEqualTo(404);
  }

  @Test
  @SuppressWarnings("unchecked")
  void sluiceEndpoint_runsQueueActions_andRefusesBadInput() throws Exception {
    HttpResponse<String> bypass = post("/actuator/sluice/queue/sluice", "{\"action\":\"bypass\"}");
    assertThat(bypass.statusCode()).isEqualTo(200);
    assertThat(json(bypass.body())).containsEntry("bypassed", true);
    assertThat(components.queue().orElseThrow().isBypassed()).isTrue();
    HttpResponse<String> restore =
        post("/actuator/sluice/queue/sluice", "{\"action\":\"restore\"}");
    assertThat(json(restore.body())).containsEntry("bypassed", false);
    assertThat(components.queue().orElseThrow().isBypassed()).isFalse();

    HttpResponse<String> bad = post("/actuator/sluice/queue/sluice", "{\"action\":\"explode\"}");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(json(bad.body())).containsEntry("error", "invalid");
    HttpResponse<String> badPeriod =
        post("/actuator/sluice/rate-limiter/limited", "{\"period\":\"soon\"}");
    assertThat(badPeriod.statusCode()).isEqualTo(400);
    assertThat((String) json(badPeriod.body()).get("message")).contains("period");
    assertThat(post("/actuator/sluice/circuit-breaker/nope", "{\"action\":\"reset\"}")
        .statusCode()).isEqualTo(404);
    assertThat(post("/actuator/sluice/circuit-breaker/downstream", "{\"action\":\"reset\"}")
        .statusCode()).isEqualTo(200);
    // A settings change goes to core's runtime reconfiguration: only the given fields change. Limit
    // and burst move together, so the burst tolerance (burst x period / limit) stays one hour and
    // restoring the settings afterwards leaves the limiter exactly as the other tests expect it.
    RateLimiter<String> limited = components.rateLimiters().get("limited");
    RateLimiter.Settings before = limited.settings();
    try {
      changeTheLimitLive(limited);
    } finally {
      limited.reconfigure(before); // the context, and this limiter, serve the other tests too
    }
  }

  @SuppressWarnings("unchecked")
  private void changeTheLimitLive(RateLimiter<String> limited) throws Exception {
    HttpResponse<String> change =
        post("/actuator/sluice/rate-limiter/limited", "{\"limit\":10,\"burst\":10}");
    assertThat(change.statusCode()).as(change.body()).isEqualTo(200);
    assertThat(((Number) json(change.body()).get("limit")).intValue()).isEqualTo(10);
    assertThat(json(change.body())).containsEntry("period", "PT1H");
    RateLimiter.Settings now = limited.settings();
    assertThat(now.limit()).isEqualTo(10);
    assertThat(now.period()).isEqualTo(Duration.ofHours(1));
    HttpResponse<String> negative =
        post("/actuator/sluice/rate-limiter/limited", "{\"limit\":-1}");
    assertThat(negative.statusCode()).isEqualTo(400);
    assertThat((String) json(negative.body()).get("message")).contains("limit");
    assertThat(limited.settings().limit()).isEqualTo(10);
  }

  @Test
  void sluiceMeters_areBoundToTheApplicationsRegistry_andCountEachDecision() throws Exception {
    // A key of its own: the client's address is the other tests' key on this shared limiter.
    double before = decisions("allowed");
    components.rateLimiters().get("limited").tryAcquire("metrics-test-key");
    assertThat(decisions("allowed")).isEqualTo(before + 1);
    assertThat(meters.find("sluice.http.requests").tag("rule", "limited").counters()).isNotEmpty();
    assertThat(meters.find("sluice.queue.active").tag("name", "sluice").gauge()).isNotNull();
    assertThat(meters.find("sluice.health.score").gauge()).isNotNull();
  }

  private double decisions(String outcome) {
    Counter c = meters.find("sluice.ratelimit.decisions").tag("name", "limited")
        .tag("outcome", outcome).counter();
    assertThat(c).as("sluice.ratelimit.decisions{name=limited,outcome=%s}", outcome).isNotNull();
    return c.count();
  }

  private HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(uri(path)).timeout(WAIT).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private CompletableFuture<HttpResponse<String>> getAsync(String path) {
    return http.sendAsync(HttpRequest.newBuilder(uri(path)).timeout(WAIT).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> post(String path, String json)
      throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(uri(path)).timeout(WAIT)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  private static Map<String, Object> json(String body) {
    return JsonParserFactory.getJsonParser().parseMap(body);
  }
}
