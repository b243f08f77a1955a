package dev.sluice.servlet;

import dev.sluice.testing.Await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.QuotaDecision;
import dev.sluice.QuotaGate;
import dev.sluice.QuotaStoreException;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.testing.ManualScheduler;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The filter against clients that misbehave on purpose: slow, partial, oversized and chunked
 * bodies, hang-ups, and the operator's mistakes, over real sockets into a real container. Each
 * attack also checks that a legitimate request is still served and that nothing leaks.
 */
abstract class HostileClientTest {
  private ServletContainer jetty;
  private RequestQueue<String> queue;
  private final ManualScheduler timeouts = new ManualScheduler();

  /** A fresh, unstarted container with this many threads. */
  abstract ServletContainer container(int maxThreads);

  /** Whether the container lets the filter notice a client that leaves while queued. */
  abstract boolean seesQueuedDisconnects();

  @AfterEach
  void stop() {
    if (jetty != null) {
      jetty.close();
    }
    if (queue != null) {
      queue.close();
    }
  }

  /** Echoes the body it reads; counts calls; holds each call while {@link #hold} is closed. */
  static final class Echo extends HttpServlet {
    private static final long serialVersionUID = 1L;
    final AtomicInteger calls = new AtomicInteger();
    volatile CountDownLatch hold = new CountDownLatch(0);
    volatile CountDownLatch entered = new CountDownLatch(0);

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      calls.incrementAndGet();
      entered.countDown();
      try {
        if (!hold.await(20, TimeUnit.SECONDS)) {
          res.setStatus(500);
          return;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      String form = req.getParameter("q");
      byte[] body = form != null ? form.getBytes(StandardCharsets.UTF_8)
          : req.getInputStream().readAllBytes();
      res.setContentType("text/plain;charset=utf-8");
      res.setHeader("X-Dispatch", req.getDispatcherType().name());
      res.getWriter().write("echo:" + new String(body, StandardCharsets.UTF_8));
    }
  }

  private RequestQueue<String> queue(int maxConcurrent) {
    queue = RequestQueue.builder().maxConcurrent(maxConcurrent).maxQueued(50)
        .priorities("chat").timeout(Duration.ofSeconds(60))
        .clock(timeouts::nanoTime).scheduler(timeouts).build();
    return queue;
  }

  private SluiceFilter.Builder filter() {
    return SluiceFilter.builder().clock(timeouts::nanoTime).timer(timeouts);
  }

  private void start(SluiceFilter filter, HttpServlet servlet) throws Exception {
    // Eight threads in all: a slow body that held a thread would starve the legitimate request.
    jetty = container(8).filter(filter).servlet("/*", servlet).start();
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    Await.until(condition, Duration.ofSeconds(10), what);
  }

  private HttpResponse<String> post(String path, String body) throws Exception {
    return jetty.send(HttpRequest.newBuilder(jetty.uri(path))
        .POST(HttpRequest.BodyPublishers.ofString(body)));
  }

  @Test
  void slowBodies_holdNoPermitNorThread_andGet408_whileALegitimateRequestIsServed()
      throws Exception {
    SluiceFilter f = filter().queue(queue(2))
        .rule(RouteRule.builder("chat").path("/api/chat").queuePriority("chat").build()).build();
    Echo echo = new Echo();
    start(f, echo);
    List<SlowClient> attackers = new ArrayList<>();
    try {
      for (int i = 0; i < 20; i++) {
        attackers.add(SlowClient.connect(jetty.uri("/"))
            .head("POST", "/api/chat", "Content-Length: 200").send("x"));
      }
      await(() -> f.stats().readingBodies() == 20, "the server reads twenty bodies");
      // Twenty bodies trickle in; the queue (2 slots) and Jetty's 8 threads are all still free.
      HttpResponse<String> legit = post("/api/chat", "hello");
      assertThat(legit.statusCode()).isEqualTo(200);
      assertThat(legit.body()).isEqualTo("echo:hello");
      assertThat(queue.stats().active()).isZero();

      // 10 s base + 200 bytes at 8 KiB/s: at 10.1 s every slow body has run out of time.
      timeouts.advance(Duration.ofMillis(10_100));
      for (SlowClient a : attackers) {
        SlowClient.Response r = a.read();
        assertThat(r).isNotNull();
        assertThat(r.status()).isEqualTo(408);
        assertThat(r.header("Content-Type")).startsWith("application/json");
        assertThat(ServletContainer.JSON.readTree(r.body()).get("error").asText())
            .isEqualTo("body_timeout");
        assertThat(a.closedByServer()).isTrue();
      }
    } finally {
      for (SlowClient a : attackers) {
        a.close();
      }
    }
    FilterStats stats = f.stats();
    assertThat(stats.bodyTimeouts()).isEqualTo(20);
    assertThat(stats.admitted()).isEqualTo(1);
    assertThat(stats.clientAborts()).isZero();
    assertThat(echo.calls).hasValue(1);
    assertThat(queue.stats().active()).isZero();
    assertThat(queue.stats().queued()).isZero();
    assertThat(stats.readingBodies()).isZero();
  }

  @Test
  void bodyThatKeepsArrivingAtTheMinimumRate_isAccepted() throws Exception {
    SluiceFilter f = filter().bodyTimeout(Duration.ofSeconds(1)).minBodyRate(10)
        .rule(RouteRule.builder("chat").path("/api/chat").build()).build();
    start(f, new Echo());
    try (SlowClient c = SlowClient.connect(jetty.uri("/"))) {
      // 30 bytes at 10 B/s earn 1 s + 3 s.
      c.head("POST", "/api/chat", "Content-Length: 30").send("0123456789");
      await(() -> f.stats().readingBodies() == 1, "the server reads the body");
      timeouts.advance(Duration.ofSeconds(2));
      c.send("0123456789");
      timeouts.advance(Duration.ofSeconds(1));
      c.send("0123456789");
      SlowClient.Response r = c.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("echo:012345678901234567890123456789");
    }
    assertThat(f.stats().bodyTimeouts()).isZero();
  }

  @Test
  void declaredBodyOverTheRuleLimit_gets413_beforeAnyLimitOrPermitIsSpent() throws Exception {
    RateLimiter<String> perIp = RateLimiter.builder().name("chat").limit(1, Duration.ofMinutes(1))
        .clock(timeouts::nanoTime).build();
    SluiceFilter f = filter().queue(queue(1)).rule(RouteRule.builder("chat").path("/api/chat")
        .perIp(perIp).queuePriority("chat").maxBodySize(100).build()).build();
    Echo echo = new Echo();
    start(f, echo);
    try (SlowClient c = SlowClient.connect(jetty.uri("/"))) {
      SlowClient.Response r = c.head("POST", "/api/chat", "Content-Length: 101").read();
      assertThat(r.status()).isEqualTo(413);
      JsonNode body = ServletContainer.JSON.readTree(r.body());
      assertThat(body.get("error").asText()).isEqualTo("body_too_large");
      assertThat(body.get("limit").asInt()).isEqualTo(100);
    }
    // The limit was not charged: the one allowed call still goes through.
    assertThat(post("/api/chat", "ok").statusCode()).isEqualTo(200);
    assertThat(f.stats().bodyTooLarge()).isEqualTo(1);
    assertThat(echo.calls).hasValue(1);
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void refusalBeforeTheBodyIsRead_saysConnectionClose_soKeepAliveClientsDoNotReuseIt()
      throws Exception {
    RateLimiter<String> perIp = RateLimiter.builder().name("chat").limit(1, Duration.ofMinutes(1))
        .clock(timeouts::nanoTime).build();
    start(filter().rule(RouteRule.builder("chat").path("/api/chat").perIp(perIp).build()).build(),
        new Echo());
    assertThat(post("/api/chat", "first").statusCode()).isEqualTo(200);
    try (SlowClient c = SlowClient.connect(jetty.uri("/"))) {
      SlowClient.Response r = c.head("POST", "/api/chat", "Content-Length: 10").read();
      assertThat(r.status()).isEqualTo(429);
      // Jetty closes at once; Tomcat first waits (its connection timeout) for the body to swallow.
      assertThat(r.header("Connection")).isEqualToIgnoringCase("close");
    }
    // Without a body there is nothing left on the connection: it stays open.
    try (SlowClient c = SlowClient.connect(jetty.uri("/"))) {
      SlowClient.Response r = c.head("GET", "/api/chat").read();
      assertThat(r.status()).isEqualTo(429);
      assertThat(r.header("Connection")).isNull();
    }
  }

  @Test
  void chunkedBodyOverTheLimit_gets413_andNeverReachesTheHandler() throws Exception {
    SluiceFilter f = filter().maxBodySize(64)
        .rule(RouteRule.builder("chat").path("/api/chat").build()).build();
    Echo echo = new Echo();
    start(f, echo);
    try (SlowClient c = SlowClient.connect(jetty.uri("/"))) {
      c.head("POST", "/api/chat", "Transfer-Encoding: chunked").chunk("a".repeat(40));
      c.chunk("b".repeat(40));
      SlowClient.Response r = c.read();
      assertThat(r.status()).isEqualTo(413);
      assertThat(ServletContainer.JSON.readTree(r.body()).get("limit").asInt()).isEqualTo(64);
    }
    try (SlowClient c = SlowClient.connect(jetty.uri("/"))) {
      c.head("POST", "/api/chat", "Transfer-Encoding: chunked").chunk("a".repeat(40))
          .chunk("b".repeat(24)).lastChunk();
      SlowClient.Response r = c.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("echo:" + "a".repeat(40) + "b".repeat(24));
    }
    assertThat(f.stats().bodyTooLarge()).isEqualTo(1);
    assertThat(echo.calls).hasValue(1);
  }

  @Test
  void clientsThatHangUpMidBody_areClientAborts_notErrors() throws Exception {
    SluiceFilter f = filter().queue(queue(1))
        .rule(RouteRule.builder("chat").path("/api/chat").queuePriority("chat").build()).build();
    Echo echo = new Echo();
    start(f, echo);
    for (int i = 0; i < 10; i++) {
      SlowClient c = SlowClient.connect(jetty.uri("/"));
      c.head("POST", "/api/chat", "Content-Length: 200").send("partial");
      if (i % 2 == 0) {
        c.close();
      } else {
        c.reset();
      }
    }
    await(() -> f.stats().clientAborts() == 10, "ten client aborts are counted");
    FilterStats stats = f.stats();
    assertThat(stats.readingBodies()).isZero();
    assertThat(stats.failed()).isZero();
    assertThat(stats.admitted()).isZero();
    assertThat(stats.bodyTimeouts()).isZero();
    assertThat(echo.calls).hasValue(0);
    assertThat(queue.stats().active()).isZero();
    assertThat(f.healthContributor().check().score()).isEqualTo(100);
    assertThat(post("/api/chat", "still here").body()).isEqualTo("echo:still here");
  }

  @Test
  void queuedChunkedRequest_whoseClientLeaves_givesItsPlaceBack() throws Exception {
    SluiceFilter f = filter().queue(queue(1))
        .rule(RouteRule.builder("chat").path("/api/chat").queuePriority("chat").build()).build();
    Echo echo = new Echo();
    echo.hold = new CountDownLatch(1);
    echo.entered = new CountDownLatch(1);
    start(f, echo);
    // The one slot is taken by a request the handler holds.
    var first = jetty.client().sendAsync(HttpRequest.newBuilder(jetty.uri("/api/chat"))
        .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString("first"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(echo.entered.await(10, TimeUnit.SECONDS)).isTrue();
    try (SlowClient c = SlowClient.connect(jetty.uri("/"))) {
      c.head("POST", "/api/chat", "Transfer-Encoding: chunked").chunk("queued").lastChunk();
      await(() -> queue.stats().queued() == 1, "the chunked request waits in the queue");
    }
    if (seesQueuedDisconnects()) {
      await(() -> f.stats().abandoned() == 1, "the departed waiter is noticed");
    } else {
      // The container cannot tell (see SluiceFilterQueueTomcatTest): the queue's timeout is the
      // bound on how long a departed client holds its place.
      timeouts.advance(Duration.ofSeconds(60));
      assertThat(queue.stats().timedOut()).isEqualTo(1);
    }
    assertThat(queue.stats().queued()).isZero();
    echo.hold.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS).body()).isEqualTo("echo:first");
    assertThat(echo.calls).hasValue(1);
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void queuedChunkedRequest_runsWithItsBodyWhenASlotFrees() throws Exception {
    SluiceFilter f = filter().queue(queue(1))
        .rule(RouteRule.builder("chat").path("/api/chat").queuePriority("chat").build()).build();
    Echo echo = new Echo();
    echo.hold = new CountDownLatch(1);
    echo.entered = new CountDownLatch(1);
    start(f, echo);
    var first = jetty.client().sendAsync(HttpRequest.newBuilder(jetty.uri("/api/chat"))
        .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString("first"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(echo.entered.await(10, TimeUnit.SECONDS)).isTrue();
    try (SlowClient c = SlowClient.connect(jetty.uri("/"))) {
      c.head("POST", "/api/chat", "Transfer-Encoding: chunked").chunk("sec").chunk("ond")
          .lastChunk();
      await(() -> queue.stats().queued() == 1, "the chunked request waits in the queue");
      echo.hold.countDown();
      SlowClient.Response r = c.read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("echo:second");
    }
    assertThat(first.get(10, TimeUnit.SECONDS).body()).isEqualTo("echo:first");
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void largeBodiesWithinTheLimit_arriveIntact_declaredOrChunked() throws Exception {
    start(filter().maxBodySize(300_000).rule(RouteRule.builder("chat").path("/api/chat").build())
        .build(), new Echo());
    StringBuilder big = new StringBuilder();
    for (int i = 0; big.length() < 300_000 - 10; i++) {
      big.append(i).append(',');
    }
    String body = big.toString();
    HttpResponse<String> declared = post("/api/chat", body);
    assertThat(declared.statusCode()).as(declared.body()).isEqualTo(200);
    assertThat(declared.body().equals("echo:" + body)).as("declared body echoed intact").isTrue();
    try (SlowClient c = SlowClient.connect(jetty.uri("/"))) {
      c.head("POST", "/api/chat", "Transfer-Encoding: chunked");
      for (int i = 0; i < body.length(); i += 7_000) {
        c.chunk(body.substring(i, Math.min(body.length(), i + 7_000)));
      }
      SlowClient.Response r = c.lastChunk().read();
      assertThat(r.status()).as(r.head()).isEqualTo(200);
      assertThat(r.body().equals("echo:" + body)).as("chunked body echoed intact").isTrue();
    }
  }

  @Test
  void aBodyThatArrivedWithItsHead_isReadAtOnce_aLateOneAsynchronously() throws Exception {
    SluiceFilter f = filter().rule(RouteRule.builder("chat").path("/api/chat").build()).build();
    start(f, new Echo());
    try (SlowClient c = SlowClient.connect(jetty.uri("/"))) {
      // One write: head and body reach the server in one segment.
      c.send("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello");
      SlowClient.Response r = c.read();
      assertThat(r.body()).isEqualTo("echo:hello");
      assertThat(r.header("X-Dispatch")).isEqualTo("REQUEST");
    }
    try (SlowClient c = SlowClient.connect(jetty.uri("/"))) {
      c.head("POST", "/api/chat", "Content-Length: 5");
      await(() -> f.stats().readingBodies() == 1, "the server waits for the body");
      SlowClient.Response r = c.send("later").read();
      assertThat(r.body()).isEqualTo("echo:later");
      assertThat(r.header("X-Dispatch")).isEqualTo("ASYNC");
    }
  }

  @Test
  void formParameters_areReadFromTheBufferedBody() throws Exception {
    start(filter().rule(RouteRule.builder("chat").path("/api/chat").build()).build(), new Echo());
    HttpResponse<String> r = jetty.send(HttpRequest.newBuilder(jetty.uri("/api/chat"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("q=caf%C3%A9+au+lait&other=1")));
    assertThat(r.body()).isEqualTo("echo:café au lait");
  }

  /** A quota store that fails as an operator's mistake makes it fail: not a store outage. */
  private static final class BrokenQuota implements QuotaGate {
    final AtomicInteger consumes = new AtomicInteger();

    @Override
    public QuotaDecision consume(String subject, String quota, int amount, String requestId) {
      consumes.incrementAndGet();
      throw new IllegalArgumentException(
          "ERROR: time zone \"Mars/Olympus\" not recognized at org.postgresql.Secret.line(42)");
    }

    @Override
    public boolean refund(String subject, String quota, String requestId) {
      return false;
    }
  }

  @Test
  void anyQuotaFailure_failClosed_is503Json_withoutTheCausesText() throws Exception {
    BrokenQuota quota = new BrokenQuota();
    start(filter().quotaGate(quota).userKeyResolver(r -> "alice")
        .rule(RouteRule.builder("chat").path("/api/chat").quota("chat").build()).build(),
        new Echo());
    HttpResponse<String> r = post("/api/chat", "hi");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(
        t -> assertThat(t).startsWith("application/json"));
    assertThat(ServletContainer.json(r).get("error").asText()).isEqualTo("unavailable");
    assertThat(r.body()).doesNotContain("Mars", "postgresql", "Exception", "at ");
    assertThat(quota.consumes).hasValue(1);
  }

  @Test
  void quotaStoreOutage_failOpen_letsTheRequestThrough() throws Exception {
    Echo echo = new Echo();
    QuotaGate down = new DownQuota("connection refused");
    SluiceFilter f = filter().quotaGate(down).userKeyResolver(r -> "alice")
        .rule(RouteRule.builder("chat").path("/api/chat").quota("chat").failOpen(true).build())
        .build();
    start(f, echo);
    assertThat(post("/api/chat", "hi").body()).isEqualTo("echo:hi");
    assertThat(f.stats().storeFailures()).isEqualTo(1);
  }

  /**
   * A user key the store refuses as an argument (a user id longer than the PostgreSQL quota
   * accepts, say one chosen at sign-up) is no outage: failing open would give that user no limit
   * at all, so it fails closed even on a fail-open rule, for the quota and for rate limits.
   */
  @Test
  void argumentTheStoreRefuses_failOpenRule_failsClosedAnyway() throws Exception {
    BrokenQuota quota = new BrokenQuota();
    RateLimiter<String> refusingKeys = RateLimiter.builder().name("per-user")
        .limit(100, Duration.ofMinutes(1)).build(new RefusingKeyStore());
    SluiceFilter f = filter().quotaGate(quota).userKeyResolver(r -> r.getHeader("X-Test-User"))
        .rule(RouteRule.builder("chat").path("/api/chat").quota("chat").failOpen(true).build())
        .rule(RouteRule.builder("limited").path("/api/limited").perUser(refusingKeys)
            .failOpen(true).build())
        .build();
    start(f, new Echo());

    HttpResponse<String> r = jetty.send(HttpRequest.newBuilder(jetty.uri("/api/chat"))
        .header("X-Test-User", "alice").POST(HttpRequest.BodyPublishers.ofString("hi")));
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(ServletContainer.json(r).get("error").asText()).isEqualTo("unavailable");
    assertThat(quota.consumes).hasValue(1);

    HttpResponse<String> limited = jetty.send(HttpRequest.newBuilder(jetty.uri("/api/limited"))
        .header("X-Test-User", "x".repeat(2000)).POST(HttpRequest.BodyPublishers.ofString("hi")));
    assertThat(limited.statusCode()).isEqualTo(503);
    assertThat(ServletContainer.json(limited).get("error").asText()).isEqualTo("unavailable");
    assertThat(f.stats().storeFailures()).isEqualTo(2);
  }

  /** A quota store that is down: every consume fails with a QuotaStoreException. */
  private static final class DownQuota implements QuotaGate {
    private final String message;

    DownQuota(String message) {
      this.message = message;
    }

    @Override
    public QuotaDecision consume(String subject, String quota, int amount, String requestId) {
      throw new QuotaStoreException(message, false, null);
    }

    @Override
    public boolean refund(String subject, String quota, String requestId) {
      return false;
    }
  }

  /** A rate-limit store that refuses keys over 1000 chars as an argument; allows the rest. */
  private static final class RefusingKeyStore implements RateLimitStore<String> {
    @Override
    public Outcome acquire(String key, long incrementNanos, long toleranceNanos) {
      if (key.length() > 1000) {
        throw new IllegalArgumentException("key must be at most 1000 chars but was "
            + key.length());
      }
      return new Outcome(true, 0, 0);
    }
  }

  /** An in-memory quota that can answer a dry run. */
  private static final class CheckableQuota implements QuotaGate {
    final Map<String, Integer> used = new ConcurrentHashMap<>();
    final int limit;

    CheckableQuota(int limit) {
      this.limit = limit;
    }

    @Override
    public synchronized QuotaDecision consume(String subject, String quota, int amount,
        String requestId) {
      int u = used.getOrDefault(subject, 0);
      boolean ok = u + amount <= limit;
      if (ok) {
        used.put(subject, u + amount);
      }
      return decision(ok, ok ? u + amount : u, quota);
    }

    @Override
    public synchronized QuotaDecision check(String subject, String quota, int amount) {
      int u = used.getOrDefault(subject, 0);
      return decision(u + amount <= limit, u, quota);
    }

    private QuotaDecision decision(boolean ok, int u, String quota) {
      return new QuotaDecision(ok, u, limit, Math.max(0, limit - u),
          Instant.parse("2030-01-01T00:00:00Z"), quota);
    }

    @Override
    public boolean refund(String subject, String quota, String requestId) {
      return false;
    }
  }

  @Test
  void shadowRule_checksTheQuotaButNeverSpendsIt() throws Exception {
    CheckableQuota quota = new CheckableQuota(1);
    quota.used.put("bob", 1);
    SluiceFilter f = filter().quotaGate(quota).userKeyResolver(r -> r.getHeader("X-User"))
        .rule(RouteRule.builder("chat").path("/api/chat").quota("chat").shadow(true).build())
        .build();
    start(f, new Echo());
    for (int i = 0; i < 3; i++) {
      assertThat(jetty.post("/api/chat", "X-User", "alice").statusCode()).isEqualTo(200);
    }
    assertThat(jetty.post("/api/chat", "X-User", "bob").statusCode()).isEqualTo(200);
    assertThat(quota.used).doesNotContainKey("alice").containsEntry("bob", 1);
    assertThat(f.stats().shadowRefusals()).isEqualTo(1); // bob, who has nothing left
  }

  /** A handler with a bug. */
  private static final class Throws extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) {
      throw new IllegalStateException("secret internal detail");
    }
  }

  @Test
  void handlerThatThrows_is500Json_withoutStackTrace_andReleasesItsPermit() throws Exception {
    SluiceFilter f = filter().queue(queue(1))
        .rule(RouteRule.builder("chat").path("/api/chat").queuePriority("chat").build()).build();
    start(f, new Throws());
    HttpResponse<String> r = post("/api/chat", "hi");
    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(ServletContainer.json(r).get("error").asText()).isEqualTo("internal_error");
    assertThat(r.body()).doesNotContain("secret", "Exception");
    assertThat(f.stats().failed()).isEqualTo(1);
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void twoFiltersInOneChain_theSecondAdmitsARequestTheFirstSuspendedForItsBody()
      throws Exception {
    SluiceFilter perIp = filter().name("per-ip")
        .rule(RouteRule.builder("chat").path("/api/chat").perIp(RateLimiter.builder()
            .name("chat").limit(100, Duration.ofMinutes(1)).clock(timeouts::nanoTime).build())
            .build()).build();
    SluiceFilter perUser = filter().name("per-user").queue(queue(1))
        .userKeyResolver(r -> "alice")
        .rule(RouteRule.builder("chat").path("/api/chat").queuePriority("chat").build()).build();
    Echo echo = new Echo();
    jetty = container(8).filter(perIp).filter(perUser).servlet("/*", echo).start();
    assertThat(post("/api/chat", "twice filtered").body()).isEqualTo("echo:twice filtered");
    assertThat(perIp.stats().admitted()).isEqualTo(1);
    assertThat(perUser.stats().admitted()).isEqualTo(1);
    assertThat(echo.calls).hasValue(1);
    assertThat(queue.stats().admitted()).isEqualTo(1);
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void failingQuota_neverMentionsTheStoreException_evenWhenItIsAQuotaStoreException()
      throws Exception {
    QuotaGate down = new DownQuota("connection to 10.1.2.3:5432 refused");
    start(filter().quotaGate(down).userKeyResolver(r -> "alice")
        .rule(RouteRule.builder("chat").path("/api/chat").quota("chat").build()).build(),
        new Echo());
    HttpResponse<String> r = post("/api/chat", "hi");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).doesNotContain("10.1.2.3");
  }
}
