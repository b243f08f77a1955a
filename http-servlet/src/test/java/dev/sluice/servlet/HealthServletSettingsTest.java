package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.AdaptiveLimit;
import dev.sluice.CircuitBreaker;
import dev.sluice.HealthContributors;
import dev.sluice.HealthMonitor;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The admin actions {@code settings} and {@code configure} over HTTP, run once per container:
 * {@link HealthServletSettingsJettyTest}, {@link HealthServletSettingsTomcatTest}.
 */
abstract class HealthServletSettingsTest {
  private static final String TOKEN = "s3cret-admin-token-0123456789";
  private static final String AUTH = "Bearer " + TOKEN;

  private final RateLimiter<String> perIp = RateLimiter.builder().name("per-ip")
      .limit(5, Duration.ofMinutes(1)).build();
  private final RateLimiter<String> export = RateLimiter.builder().name("export")
      .limit(3, Duration.ofMinutes(1)).burst(1).build();
  private final RequestQueue<String> queue = RequestQueue.builder().name("chat")
      .maxConcurrent(20).maxConcurrentPerKey(2).maxQueued(200).build();
  private final CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").build();
  private final HealthMonitor monitor = HealthMonitor.builder()
      .add(HealthContributors.requestQueue(queue))
      .build();
  private ServletContainer server;

  /** A new, unstarted container of the kind this subclass tests. */
  abstract ServletContainer container(int maxThreads);

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
    queue.close();
  }

  private void start(RequestQueue<?> q) throws Exception {
    HealthServlet servlet = HealthServlet.builder(monitor).adminToken(TOKEN).queue(q)
        .circuitBreakers(breaker).rateLimiters(perIp, export).build();
    server = container(8).servlet("/admin", servlet).start();
  }

  private HttpResponse<String> post(String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(server.uri("/admin"))
        .POST(HttpRequest.BodyPublishers.ofString(body));
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return server.send(b);
  }

  private HttpResponse<String> configure(String kind, String name, String settings)
      throws Exception {
    return post("{\"action\":\"configure\",\"kind\":\"" + kind + "\",\"name\":\"" + name
        + "\",\"settings\":" + settings + "}", "Authorization", AUTH);
  }

  private static void assertError(HttpResponse<String> r, int status, String error, String field)
      throws Exception {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(r.headers().firstValue("Cache-Control")).hasValue("no-store");
    JsonNode body = ServletContainer.json(r);
    assertThat(body.get("error").asText()).isEqualTo(error);
    assertThat(body.get("message").asText()).isNotBlank();
    if (field != null) {
      assertThat(body.get("field").asText()).isEqualTo(field);
    }
  }

  @Test
  void settings_withToken_answersEveryRegisteredComponent() throws Exception {
    start(queue);
    HttpResponse<String> r = post("{\"action\":\"settings\"}", "Authorization", AUTH);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Cache-Control")).hasValue("no-store");
    assertThat(r.body()).isEqualTo("{\"action\":\"settings\","
        + "\"rateLimiters\":{\"per-ip\":{\"limit\":5,\"period\":\"PT1M\",\"burst\":5},"
        + "\"export\":{\"limit\":3,\"period\":\"PT1M\",\"burst\":1}},"
        + "\"queues\":{\"chat\":{\"maxConcurrent\":20,\"maxConcurrentPerKey\":2,"
        + "\"maxQueued\":200,\"timeout\":\"PT1M\"}},"
        + "\"breakers\":{\"pubmed\":{\"failureThreshold\":5,\"failureRateThreshold\":0.0,"
        + "\"minimumCalls\":0,\"slowCallThreshold\":null,\"openDuration\":\"PT30S\","
        + "\"halfOpenProbes\":1}}}");
  }

  @Test
  void settingsAndConfigure_withMissingOrWrongToken_are401AndChangeNothing() throws Exception {
    start(queue);
    assertError(post("{\"action\":\"settings\"}"), 401, "unauthorized", null);
    assertError(post("{\"action\":\"settings\"}", "Authorization", AUTH + "x"), 401,
        "unauthorized", null);
    String body = "{\"action\":\"configure\",\"kind\":\"rate-limiter\",\"name\":\"per-ip\","
        + "\"settings\":{\"limit\":100}}";
    assertError(post(body), 401, "unauthorized", null);
    assertError(post(body, "Authorization", "Bearer wrong-token-0123456789"), 401,
        "unauthorized", null);
    assertThat(perIp.limit()).isEqualTo(5);
  }

  @Test
  void configure_rateLimiter_changesOnlyTheGivenFields_andAnswersOldAndNew() throws Exception {
    start(queue);
    HttpResponse<String> r = configure("rate-limiter", "per-ip", "{\"limit\":10}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("{\"action\":\"configure\",\"kind\":\"rate-limiter\","
        + "\"name\":\"per-ip\",\"old\":{\"limit\":5,\"period\":\"PT1M\",\"burst\":5},"
        + "\"new\":{\"limit\":10,\"period\":\"PT1M\",\"burst\":5}}");
    assertThat(perIp.settings()).isEqualTo(new RateLimiter.Settings(10, Duration.ofMinutes(1), 5));
    assertThat(export.limit()).isEqualTo(3);

    HttpResponse<String> millis = configure("rate-limiter", "per-ip",
        "{\"period\":30000,\"burst\":2}");
    assertThat(millis.statusCode()).as(millis.body()).isEqualTo(200);
    assertThat(perIp.settings()).isEqualTo(new RateLimiter.Settings(10, Duration.ofSeconds(30), 2));
    assertThat(ServletContainer.json(millis).get("new").get("period").asText())
        .isEqualTo("PT30S");
  }

  @Test
  void configure_queue_acceptsIsoAndMillisDurations() throws Exception {
    start(queue);
    HttpResponse<String> r = configure("queue", "chat",
        "{\"maxConcurrent\":40,\"maxQueued\":50,\"timeout\":\"PT10S\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(queue.settings())
        .isEqualTo(new RequestQueue.Settings(40, 2, 50, Duration.ofSeconds(10)));
    JsonNode body = ServletContainer.json(r);
    assertThat(body.get("old").get("maxConcurrent").asInt()).isEqualTo(20);
    assertThat(body.get("new").get("timeout").asText()).isEqualTo("PT10S");

    assertThat(configure("queue", "chat", "{\"timeout\":1500}").statusCode()).isEqualTo(200);
    assertThat(queue.timeout()).isEqualTo(Duration.ofMillis(1500));
  }

  @Test
  void configure_queueWithoutPerKeyCap_keepsNone_whenOnlyTheGlobalCapIsGiven() throws Exception {
    RequestQueue<String> open = RequestQueue.builder().name("open").maxConcurrent(10).build();
    try {
      start(open);
      HttpResponse<String> r = configure("queue", "open", "{\"maxConcurrent\":4}");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(open.settings().maxConcurrentPerKey()).isEqualTo(4);
      assertThat(open.settings().maxConcurrent()).isEqualTo(4);
    } finally {
      open.close();
    }
  }

  @Test
  void configure_breaker_setsAndClearsTheSlowCallThreshold() throws Exception {
    start(queue);
    HttpResponse<String> r = configure("breaker", "pubmed",
        "{\"failureThreshold\":3,\"slowCallThreshold\":\"PT2S\",\"openDuration\":\"PT1M\","
            + "\"failureRateThreshold\":0.5,\"minimumCalls\":10,\"halfOpenProbes\":2}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(breaker.settings()).isEqualTo(new CircuitBreaker.Settings(3, 0.5, 10,
        Duration.ofSeconds(2), Duration.ofMinutes(1), 2));
    assertThat(ServletContainer.json(r).get("new").get("slowCallThreshold").asText())
        .isEqualTo("PT2S");

    assertThat(configure("breaker", "pubmed", "{\"slowCallThreshold\":null}").statusCode())
        .isEqualTo(200);
    assertThat(breaker.settings().slowCallThreshold()).isNull();
  }

  @Test
  void configure_invalidValues_are400NamingTheField_andChangeNothing() throws Exception {
    start(queue);
    assertError(configure("rate-limiter", "per-ip", "{\"limit\":0}"), 400, "invalid_setting",
        "limit");
    assertError(configure("rate-limiter", "per-ip", "{\"limit\":\"ten\"}"), 400,
        "invalid_setting", "limit");
    assertError(configure("rate-limiter", "per-ip", "{\"limit\":2.5}"), 400, "invalid_setting",
        "limit");
    assertError(configure("rate-limiter", "per-ip", "{\"period\":\"one minute\"}"), 400,
        "invalid_setting", "period");
    assertError(configure("rate-limiter", "per-ip", "{\"period\":-5}"), 400, "invalid_setting",
        "period");
    assertError(configure("rate-limiter", "per-ip", "{\"rate\":3}"), 400, "invalid_setting",
        "rate");
    assertError(configure("queue", "chat", "{\"maxConcurrentPerKey\":30}"), 400,
        "invalid_setting", "maxConcurrentPerKey");
    assertError(configure("queue", "chat", "{\"maxQueued\":-1}"), 400, "invalid_setting",
        "maxQueued");
    assertError(configure("breaker", "pubmed", "{\"failureRateThreshold\":2}"), 400,
        "invalid_setting", "failureRateThreshold");
    assertError(configure("breaker", "pubmed", "{\"halfOpenProbes\":0}"), 400,
        "invalid_setting", "halfOpenProbes");
    assertThat(perIp.settings()).isEqualTo(new RateLimiter.Settings(5, Duration.ofMinutes(1), 5));
    assertThat(queue.settings())
        .isEqualTo(new RequestQueue.Settings(20, 2, 200, Duration.ofMinutes(1)));
    assertThat(breaker.settings().halfOpenProbes()).isEqualTo(1);
  }

  @Test
  void configure_unknownNameIs404_andAMalformedRequestIs400() throws Exception {
    start(queue);
    assertError(configure("rate-limiter", "nope", "{\"limit\":1}"), 404, "unknown_name", null);
    assertError(configure("queue", "nope", "{\"maxQueued\":1}"), 404, "unknown_name", null);
    assertError(configure("breaker", "nope", "{\"failureThreshold\":1}"), 404, "unknown_name",
        null);
    assertError(configure("gizmo", "per-ip", "{\"limit\":1}"), 400, "unknown_kind", null);
    assertError(post("{\"action\":\"configure\",\"kind\":\"queue\",\"name\":\"chat\"}",
        "Authorization", AUTH), 400, "missing_settings", null);
    assertError(post("{\"action\":\"configure\",\"kind\":\"queue\",\"settings\":{}}",
        "Authorization", AUTH), 400, "missing_name", null);
    assertError(post("{\"action\":\"configure\",\"kind\":\"queue\",\"name\":\"chat\","
        + "\"settings\":{\"maxQueued\":01}}", "Authorization", AUTH), 400, "malformed_json", null);
    assertThat(queue.maxQueued()).isEqualTo(200);
  }

  @Test
  void configure_anAdaptiveQueuesCap_is409() throws Exception {
    RequestQueue<String> adaptive = RequestQueue.builder().name("adaptive")
        .adaptiveLimit(AdaptiveLimit.gradient().max(50).build()).build();
    try {
      start(adaptive);
      assertError(configure("queue", "adaptive", "{\"maxConcurrent\":10}"), 409,
          "not_reconfigurable", null);
      HttpResponse<String> ok = configure("queue", "adaptive", "{\"maxQueued\":10}");
      assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
      assertThat(adaptive.maxQueued()).isEqualTo(10);
    } finally {
      adaptive.close();
    }
  }

  @Test
  void builder_rejectsTwoRateLimitersOfTheSameName() {
    RateLimiter<String> twin = RateLimiter.builder().name("per-ip")
        .limit(1, Duration.ofSeconds(1)).build();
    assertThatThrownBy(() -> HealthServlet.builder(monitor).rateLimiters(perIp, twin))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("per-ip");
  }
}
