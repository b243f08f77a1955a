package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.CircuitBreaker;
import dev.sluice.ComponentHealth;
import dev.sluice.HealthContributors;
import dev.sluice.HealthMonitor;
import dev.sluice.QueueRejectedException;
import dev.sluice.RequestQueue;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The health/admin servlet over HTTP, run once per container: {@link HealthServletJettyTest},
 * {@link HealthServletTomcatTest}.
 */
abstract class HealthServletTest {
  private static final String TOKEN = "s3cret-admin-token-0123456789";

  private final AtomicLong now = new AtomicLong();
  private final RequestQueue<String> queue = RequestQueue.builder().name("app").maxConcurrent(1)
      .maxQueued(10).build();
  private final CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed")
      .failureThreshold(1).clock(now::get).build();
  private volatile int dbScore = 100;
  private final HealthMonitor monitor = HealthMonitor.builder()
      .add(HealthContributors.requestQueue(queue))
      .add(HealthContributors.circuitBreaker(breaker))
      .add(() -> new ComponentHealth("db", dbScore, Map.of("latencyMs", 12.5),
          dbScore < 50 ? List.of("database \"slow\": check it") : List.of()))
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

  private void start(String token) throws Exception {
    HealthServlet servlet = HealthServlet.builder(monitor).adminToken(token).queue(queue)
        .circuitBreakers(breaker).maxBodyBytes(64).build();
    server = container(8).servlet("/api/system-health", servlet).start();
  }

  private HttpResponse<String> post(String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(server.uri("/api/system-health"))
        .POST(HttpRequest.BodyPublishers.ofString(body));
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return server.send(b);
  }

  @Test
  void get_withoutToken_answersOnlyTheSummary() throws Exception {
    start(TOKEN);
    HttpResponse<String> r = server.get("/api/system-health");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("{\"status\":\"healthy\",\"score\":100}");
    assertThat(r.headers().firstValue("Cache-Control")).hasValue("no-store");
  }

  @Test
  void get_withToken_answersEveryComponent_andUnhealthyIs503() throws Exception {
    start(TOKEN);
    dbScore = 10;
    HttpResponse<String> r = server.get("/api/system-health", "Authorization", "Bearer " + TOKEN);
    assertThat(r.statusCode()).isEqualTo(503);
    JsonNode body = ServletContainer.json(r);
    assertThat(body.get("status").asText()).isEqualTo("unhealthy");
    assertThat(body.get("components")).hasSize(3);
    JsonNode db = body.get("components").get(2);
    assertThat(db.get("name").asText()).isEqualTo("db");
    assertThat(db.get("figures").get("latencyMs").asDouble()).isEqualTo(12.5);
    assertThat(db.get("recommendations").get(0).asText()).isEqualTo("database \"slow\": check it");
    assertThat(body.get("components").get(0).get("figures").get("maxConcurrent").asLong())
        .isEqualTo(1);
    assertThat(body.get("recommendations").get(0).asText()).contains("database");
  }

  @Test
  void get_withWrongToken_is401() throws Exception {
    start(TOKEN);
    HttpResponse<String> r = server.get("/api/system-health", "Authorization", "Bearer nope");
    assertThat(r.statusCode()).isEqualTo(401);
    assertThat(r.headers().firstValue("WWW-Authenticate").orElseThrow()).startsWith("Bearer");
  }

  @Test
  void post_withNoTokenConfigured_isDisabled403() throws Exception {
    start(null);
    HttpResponse<String> r = post("{\"action\":\"reset-queue\"}", "Authorization", "Bearer x");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(ServletContainer.json(r).get("error").asText()).isEqualTo("admin_disabled");
  }

  @Test
  void post_withMissingOrWrongToken_is401AndDoesNothing() throws Exception {
    start(TOKEN);
    RequestQueue.Permit held = queue.tryAcquire("a", "default").orElseThrow();
    CompletableFuture<RequestQueue.Permit> waiter = queue.acquireAsync("b", "default");
    assertThat(post("{\"action\":\"reset-queue\"}").statusCode()).isEqualTo(401);
    assertThat(post("{\"action\":\"reset-queue\"}", "Authorization", "Bearer " + TOKEN + "x")
        .statusCode()).isEqualTo(401);
    assertThat(post("{\"action\":\"reset-queue\"}", "Authorization", "Basic " + TOKEN)
        .statusCode()).isEqualTo(401);
    assertThat(waiter).isNotDone();
    held.close();
    waiter.get(5, TimeUnit.SECONDS).close();
  }

  @Test
  void post_unknownAction_malformedBody_oversizedBody_areClientErrorsWithJson() throws Exception {
    start(TOKEN);
    String auth = "Bearer " + TOKEN;
    HttpResponse<String> unknown = post("{\"action\":\"reboot\"}", "Authorization", auth);
    assertThat(unknown.statusCode()).isEqualTo(400);
    assertThat(ServletContainer.json(unknown).get("error").asText()).isEqualTo("unknown_action");
    assertThat(ServletContainer.json(unknown).get("message").asText()).contains("reset-queue");
    HttpResponse<String> malformed = post("{\"action\":", "Authorization", auth);
    assertThat(malformed.statusCode()).isEqualTo(400);
    assertThat(ServletContainer.json(malformed).get("error").asText()).isEqualTo("malformed_json");
    assertThat(post("[\"reset-queue\"]", "Authorization", auth).statusCode()).isEqualTo(400);
    assertThat(post("{}", "Authorization", auth).statusCode()).isEqualTo(400);
    HttpResponse<String> big = post("{\"action\":\"reset-queue\",\"pad\":\"" + "x".repeat(100)
        + "\"}", "Authorization", auth);
    assertThat(big.statusCode()).isEqualTo(413);
    assertThat(ServletContainer.json(big).get("error").asText()).isEqualTo("body_too_large");
  }

  @Test
  void post_resetQueue_failsWaitersButNotRunningWork() throws Exception {
    start(TOKEN);
    RequestQueue.Permit running = queue.tryAcquire("a", "default").orElseThrow();
    CompletableFuture<RequestQueue.Permit> waiter = queue.acquireAsync("b", "default");
    HttpResponse<String> r = post("{\"action\":\"reset-queue\"}", "Authorization", "Bearer " + TOKEN);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("{\"action\":\"reset-queue\",\"drainedWaiters\":1}");
    assertThatThrownBy(() -> waiter.get(5, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasCauseInstanceOf(QueueRejectedException.class);
    assertThat(queue.stats().active()).isEqualTo(1);
    running.close();
  }

  @Test
  void post_bypassAndRestoreQueue_switchQueueingOffAndOn() throws Exception {
    start(TOKEN);
    String auth = "Bearer " + TOKEN;
    assertThat(post("{\"action\":\"bypass-queue\"}", "Authorization", auth).body())
        .isEqualTo("{\"action\":\"bypass-queue\",\"bypassed\":true}");
    assertThat(queue.isBypassed()).isTrue();
    assertThat(post("{\"action\":\"restore-queue\"}", "Authorization", auth).statusCode())
        .isEqualTo(200);
    assertThat(queue.isBypassed()).isFalse();
  }

  @Test
  void post_resetBreakers_closesOpenBreakers() throws Exception {
    start(TOKEN);
    breaker.recordFailure(java.time.Duration.ZERO);
    assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
    HttpResponse<String> r =
        post("{\"action\":\"reset-breakers\"}", "Authorization", "Bearer " + TOKEN);
    assertThat(r.body()).isEqualTo("{\"action\":\"reset-breakers\",\"breakersReset\":1}");
    assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
  }

  @Test
  void builder_rejectsShortToken() {
    assertThatThrownBy(() -> HealthServlet.builder(monitor).adminToken("short"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("adminToken");
  }
}
