package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.QuotaDecision;
import dev.sluice.QuotaGate;
import dev.sluice.QuotaStoreException;
import dev.sluice.RateLimitStoreException;
import dev.sluice.RateLimiter;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The filter's HTTP behaviour, run once per container: {@link SluiceFilterJettyTest},
 * {@link SluiceFilterTomcatTest}.
 */
abstract class SluiceFilterTest {
  private final AtomicLong now = new AtomicLong();
  private ServletContainer server;

  /** A new, unstarted container of the kind this subclass tests. */
  abstract ServletContainer container(int maxThreads);

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  /** A test-only authentication filter: trusts X-Test-User (never do this in production). */
  private static final Filter TEST_AUTH = (req, res, chain) -> {
    String user = ((HttpServletRequest) req).getHeader("X-Test-User");
    if (user != null) {
      req.setAttribute("user", user);
    }
    chain.doFilter(req, res);
  };

  private static final class Ok extends HttpServlet {
    private static final long serialVersionUID = 1L;
    final List<String> seenRequestIds = new ArrayList<>();
    volatile int status = 200;

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      synchronized (seenRequestIds) {
        seenRequestIds.add(String.valueOf(req.getAttribute(SluiceFilter.REQUEST_ID_ATTRIBUTE)));
      }
      res.setStatus(status);
      res.setContentType("text/plain");
      res.getWriter().write("ok");
    }
  }

  /** An in-memory quota for filter tests; the real one is tested against PostgreSQL. */
  private static final class MapQuota implements QuotaGate {
    final Map<String, Long> used = new HashMap<>();
    final Map<String, String> consumed = new HashMap<>();
    final long limit;
    volatile boolean failing;

    MapQuota(long limit) {
      this.limit = limit;
    }

    @Override
    public synchronized QuotaDecision consume(String subject, String quota, int amount, String id) {
      if (failing) {
        throw new QuotaStoreException("database down", false, new IOException("down"));
      }
      long u = used.getOrDefault(subject, 0L);
      Instant reset = Instant.parse("2030-01-01T00:00:00Z");
      if (u + amount > limit) {
        return new QuotaDecision(false, u, limit, Math.max(0, limit - u), reset, quota);
      }
      used.put(subject, u + amount);
      consumed.put(id, subject);
      return new QuotaDecision(true, u + amount, limit, limit - u - amount, reset, quota);
    }

    @Override
    public synchronized boolean refund(String subject, String quota, String id) {
      if (consumed.remove(id) == null) {
        return false;
      }
      used.merge(subject, -1L, Long::sum);
      return true;
    }
  }

  private RateLimiter<String> limiter(String name, int n) {
    return RateLimiter.builder().name(name).limit(n, Duration.ofMinutes(1)).clock(now::get).build();
  }

  private SluiceFilter.Builder filter() {
    return SluiceFilter.builder().userKeyResolver(UserKeyResolver.requestAttribute("user"));
  }

  private void start(SluiceFilter filter, HttpServlet servlet) throws Exception {
    server = container(16).filter(TEST_AUTH).filter(filter)
        .servlet("/api/*", servlet).servlet("/free", new Ok()).start();
  }

  @Test
  void limitExceeded_answers429WithExactHeadersAndJson() throws Exception {
    SluiceFilter f = filter().rule(RouteRule.builder("chat").path("/api/chat").methods("POST")
        .perIp(limiter("chat", 5)).build()).build();
    start(f, new Ok());

    for (int i = 0; i < 5; i++) {
      HttpResponse<String> ok = server.post("/api/chat");
      assertThat(ok.statusCode()).isEqualTo(200);
      assertThat(ok.headers().firstValue("RateLimit-Policy")).hasValue("\"chat\";q=5;w=60");
      assertThat(ok.headers().firstValue("RateLimit"))
          .hasValue("\"chat\";r=" + (4 - i) + ";t=" + (12 * (i + 1)));
    }
    HttpResponse<String> refused = server.post("/api/chat");
    assertThat(refused.statusCode()).isEqualTo(429);
    assertThat(refused.headers().firstValue("Retry-After")).hasValue("12");
    assertThat(refused.headers().firstValue("RateLimit-Policy")).hasValue("\"chat\";q=5;w=60");
    assertThat(refused.headers().firstValue("RateLimit")).hasValue("\"chat\";r=0;t=60");
    assertThat(refused.headers().firstValue("Cache-Control")).hasValue("no-store");
    assertThat(refused.headers().firstValue("Content-Type").orElseThrow())
        .startsWith("application/json");
    JsonNode body = ServletContainer.json(refused);
    assertThat(body.get("error").asText()).isEqualTo("rate_limited");
    assertThat(body.get("retryAfterSeconds").asLong()).isEqualTo(12);
    assertThat(body.get("message").asText()).contains("12 s");

    // GET is not covered by the POST rule; other paths are not covered at all.
    assertThat(server.get("/api/chat").statusCode()).isEqualTo(200);
    assertThat(server.post("/free").statusCode()).isEqualTo(200);
    // A trailing slash does not escape the rule.
    assertThat(server.post("/api/chat/").statusCode()).isEqualTo(429);
    assertThat(f.stats("chat").rateLimited()).isEqualTo(2);
    assertThat(f.stats("chat").admitted()).isEqualTo(5);
  }

  @Test
  void limiterReconfiguredLive_theHeadersShowTheNewPolicyFromTheNextResponse() throws Exception {
    RateLimiter<String> chat = limiter("chat", 5);
    start(filter().rule(RouteRule.builder("chat").path("/api/chat").perIp(chat).build()).build(),
        new Ok());
    assertThat(server.post("/api/chat").headers().firstValue("RateLimit-Policy"))
        .hasValue("\"chat\";q=5;w=60");

    chat.reconfigure(new RateLimiter.Settings(10, Duration.ofMinutes(2), 10));

    HttpResponse<String> after = server.post("/api/chat");
    assertThat(after.statusCode()).isEqualTo(200);
    assertThat(after.headers().firstValue("RateLimit-Policy")).hasValue("\"chat\";q=10;w=120");
    assertThat(server.post("/api/chat").headers().firstValue("RateLimit-Policy"))
        .hasValue("\"chat\";q=10;w=120");
  }

  @Test
  void admittedResponses_withHeadersSwitchedOff_carryNoRateLimitHeaders() throws Exception {
    start(filter().rateLimitHeadersOnAdmitted(false)
        .rule(RouteRule.builder("chat").perIp(limiter("chat", 1)).build()).build(), new Ok());
    HttpResponse<String> ok = server.post("/api/chat");
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.headers().firstValue("RateLimit")).isEmpty();
    assertThat(server.post("/api/chat").headers().firstValue("RateLimit")).isPresent();
  }

  @Test
  void forwardedFor_fromUntrustedPeer_doesNotChangeTheKey() throws Exception {
    start(filter().rule(RouteRule.builder("chat").perIp(limiter("chat", 1)).build()).build(),
        new Ok());
    assertThat(server.post("/api/chat", "X-Forwarded-For", "198.51.100.1").statusCode())
        .isEqualTo(200);
    // A different claimed client is still the same socket peer: refused.
    assertThat(server.post("/api/chat", "X-Forwarded-For", "198.51.100.2").statusCode())
        .isEqualTo(429);
  }

  @Test
  void forwardedFor_fromTrustedPeer_keysOnTheClient() throws Exception {
    start(filter()
        .clientAddressResolver(ClientAddressResolver.builder().trustedProxies("127.0.0.1").build())
        .rule(RouteRule.builder("chat").perIp(limiter("chat", 1)).build()).build(), new Ok());
    assertThat(server.post("/api/chat", "X-Forwarded-For", "198.51.100.1").statusCode())
        .isEqualTo(200);
    assertThat(server.post("/api/chat", "X-Forwarded-For", "198.51.100.2").statusCode())
        .isEqualTo(200);
    assertThat(server.post("/api/chat", "X-Forwarded-For", "198.51.100.1").statusCode())
        .isEqualTo(429);
    // IPv6 clients in one /64 share a key.
    assertThat(server.post("/api/chat", "X-Forwarded-For", "2001:db8::1").statusCode())
        .isEqualTo(200);
    assertThat(server.post("/api/chat", "X-Forwarded-For", "2001:db8::2").statusCode())
        .isEqualTo(429);
  }

  @Test
  void perUserLimit_appliesToAuthenticatedRequestsOnly() throws Exception {
    start(filter().rule(RouteRule.builder("chat").perUser(limiter("chat-user", 1)).build())
        .build(), new Ok());
    assertThat(server.post("/api/chat", "X-Test-User", "alice").statusCode()).isEqualTo(200);
    HttpResponse<String> second = server.post("/api/chat", "X-Test-User", "alice");
    assertThat(second.statusCode()).isEqualTo(429);
    assertThat(second.headers().firstValue("RateLimit-Policy"))
        .hasValue("\"chat-user\";q=1;w=60");
    assertThat(server.post("/api/chat", "X-Test-User", "bob").statusCode()).isEqualTo(200);
    assertThat(server.post("/api/chat").statusCode()).isEqualTo(200);
    assertThat(server.post("/api/chat").statusCode()).isEqualTo(200);
  }

  @Test
  void quotaExhausted_answers429QuotaExceededWithLimitAndReset() throws Exception {
    MapQuota quota = new MapQuota(2);
    start(filter().quotaGate(quota)
        .rule(RouteRule.builder("chat").quota("chat").build()).build(), new Ok());
    assertThat(server.post("/api/chat", "X-Test-User", "alice").statusCode()).isEqualTo(200);
    assertThat(server.post("/api/chat", "X-Test-User", "alice").statusCode()).isEqualTo(200);
    HttpResponse<String> refused = server.post("/api/chat", "X-Test-User", "alice");
    assertThat(refused.statusCode()).isEqualTo(429);
    assertThat(refused.headers().firstValue("Cache-Control")).hasValue("no-store");
    JsonNode body = ServletContainer.json(refused);
    assertThat(body.get("error").asText()).isEqualTo("quota_exceeded");
    assertThat(body.get("limit").asLong()).isEqualTo(2);
    assertThat(body.get("used").asLong()).isEqualTo(2);
    assertThat(body.get("remaining").asLong()).isZero();
    assertThat(body.get("resetsAt").asText()).isEqualTo("2030-01-01T00:00:00Z");
    assertThat(Long.parseLong(refused.headers().firstValue("Retry-After").orElseThrow()))
        .isPositive();
    assertThat(server.post("/api/chat", "X-Test-User", "bob").statusCode()).isEqualTo(200);
  }

  @Test
  void handlerAnswering5xx_getsItsQuotaRefunded() throws Exception {
    MapQuota quota = new MapQuota(1);
    Ok servlet = new Ok();
    servlet.status = 502;
    start(filter().quotaGate(quota).rule(RouteRule.builder("chat").quota("chat").build()).build(),
        servlet);
    assertThat(server.post("/api/chat", "X-Test-User", "alice").statusCode()).isEqualTo(502);
    assertThat(quota.used.get("alice")).isZero();
    servlet.status = 200;
    assertThat(server.post("/api/chat", "X-Test-User", "alice").statusCode()).isEqualTo(200);
    assertThat(server.post("/api/chat", "X-Test-User", "alice").statusCode()).isEqualTo(429);
    assertThat(servlet.seenRequestIds).hasSize(2).doesNotHaveDuplicates()
        .allSatisfy(id -> assertThat(id).hasSize(36));
  }

  @Test
  void refundWhen_chosenStatuses_refundTheQuota() throws Exception {
    MapQuota quota = new MapQuota(1);
    Ok servlet = new Ok();
    servlet.status = 400;
    start(filter().quotaGate(quota).rule(RouteRule.builder("chat").quota("chat")
        .refundWhen(s -> s >= 500 || s == 400).build()).build(), servlet);
    assertThat(server.post("/api/chat", "X-Test-User", "alice").statusCode()).isEqualTo(400);
    assertThat(quota.used.get("alice")).isZero();
    servlet.status = 404;
    assertThat(server.post("/api/chat", "X-Test-User", "alice").statusCode()).isEqualTo(404);
    assertThat(quota.used.get("alice")).isEqualTo(1);
  }

  @Test
  void shadowRule_refusesNothingAndCountsWhatItWouldHaveRefused() throws Exception {
    MapQuota quota = new MapQuota(1);
    SluiceFilter f = filter().quotaGate(quota).rule(RouteRule.builder("chat")
        .perIp(limiter("chat", 2)).quota("chat").shadow(true).build()).build();
    start(f, new Ok());
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> r = server.post("/api/chat", "X-Test-User", "alice");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("RateLimit")).isEmpty();
    }
    FilterStats stats = f.stats("chat");
    // Calls 3-5 exceed the limit (3). This quota store cannot dry-run, so the shadow rule leaves
    // it alone rather than spend real quota.
    assertThat(stats.shadowRefusals()).isEqualTo(3);
    assertThat(quota.used.getOrDefault("alice", 0L)).isZero();
    assertThat(stats.admitted()).isEqualTo(5);
    assertThat(stats.rateLimited()).isZero();
    assertThat(stats.quotaExceeded()).isZero();
  }

  @Test
  void storeFailure_failClosed_answers503_failOpen_letsThrough() throws Exception {
    AtomicBoolean down = new AtomicBoolean(true);
    RateLimiter<String> shared = RateLimiter.builder().name("chat").limit(5, Duration.ofMinutes(1))
        .build((key, inc, tol) -> {
          if (down.get()) {
            throw new RateLimitStoreException("postgres down", new IOException("refused"));
          }
          return new dev.sluice.RateLimitStore.Outcome(true, 0, 0);
        });
    MapQuota quota = new MapQuota(5);
    quota.failing = true;
    SluiceFilter f = filter().quotaGate(quota).clock(now::get)
        .rule(RouteRule.builder("closed").path("/api/closed").perIp(shared).build())
        .rule(RouteRule.builder("open").path("/api/open").perIp(shared).failOpen(true).build())
        .rule(RouteRule.builder("quota").path("/api/quota").quota("chat").build())
        .build();
    start(f, new Ok());
    HttpResponse<String> closed = server.post("/api/closed");
    assertThat(closed.statusCode()).isEqualTo(503);
    assertThat(ServletContainer.json(closed).get("error").asText()).isEqualTo("unavailable");
    assertThat(closed.headers().firstValue("Retry-After")).hasValue("1");
    assertThat(server.post("/api/open").statusCode()).isEqualTo(200);
    assertThat(server.post("/api/quota", "X-Test-User", "alice").statusCode()).isEqualTo(503);
    assertThat(f.stats().storeFailures()).isEqualTo(3);
    dev.sluice.ComponentHealth health = f.healthContributor().check();
    assertThat(health.score()).isEqualTo(40);
    assertThat(health.figures()).containsEntry("storeFailures", 3L)
        .containsEntry("storeFailing", true);
    assertThat(health.recommendations()).singleElement().asString().contains("check the database");
    down.set(false);
    assertThat(server.post("/api/closed").statusCode()).isEqualTo(200);
    // Once a whole log interval passes without failures, the filter is healthy again.
    now.addAndGet(Duration.ofMinutes(1).toNanos());
    assertThat(f.healthContributor().check().score()).isEqualTo(100);
  }

  @Test
  void errorBodies_areValidJsonWhateverThePolicyNameContains() throws Exception {
    start(filter().rule(RouteRule.builder("odd")
        .perIp(limiter("quote\" back\\slash \u2028 line\nbreak", 1)).build()).build(), new Ok());
    server.post("/api/x");
    HttpResponse<String> refused = server.post("/api/x");
    assertThat(refused.statusCode()).isEqualTo(429);
    assertThat(ServletContainer.json(refused).get("policy").asText())
        .isEqualTo("quote\" back\\slash \u2028 line\nbreak");
    assertThat(refused.headers().firstValue("RateLimit-Policy"))
        .hasValue("\"quote\\\" back\\\\slash _ line_break\";q=1;w=60");
  }

  @Test
  void build_ruleWithQuotaButNoGate_failsNamingTheRule() {
    assertThatThrownBy(() -> SluiceFilter.builder()
        .rule(RouteRule.builder("chat").quota("chat").build()).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("'chat'")
        .hasMessageContaining("quotaGate");
    assertThatThrownBy(() -> SluiceFilter.builder()
        .rule(RouteRule.builder("a").build()).rule(RouteRule.builder("a").build()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'a'");
    assertThatThrownBy(() -> RouteRule.builder("a").path("api"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("path");
    assertThatThrownBy(() -> RouteRule.builder("a").path("/api/*/x"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("path");
  }
}
