package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.QuotaDecision;
import dev.sluice.QuotaGate;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimitStoreException;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.testing.Await;
import dev.sluice.testing.ManualClock;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The filter over a remote rate-limit store (one whose steps complete when the test says so):
 * requests wait suspended, holding no container thread, and end exactly as over a local store.
 * Run once per container: {@link RemoteStoreFilterJettyTest}, {@link RemoteStoreFilterTomcatTest}.
 */
abstract class RemoteStoreFilterTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final ManualClock clock = new ManualClock();
  private final HeldStore store = new HeldStore(clock);
  private final Outcomes outcomes = new Outcomes();
  private ServletContainer server;
  private RequestQueue<String> queue;

  /** A fresh, unstarted container with this many threads. */
  abstract ServletContainer container(int maxThreads);

  /** Whether the container reports a client that leaves while its request is suspended. */
  abstract boolean seesSuspendedDisconnects();

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
    if (queue != null) {
      queue.close();
    }
  }

  /**
   * A remote store whose steps wait until the test completes them: the GCRA step of
   * {@link RateLimitStore} on a map, run when the test allows it, on the test's clock.
   */
  static final class HeldStore implements RateLimitStore<String> {
    final LinkedBlockingQueue<Pending> pending = new LinkedBlockingQueue<>();
    final AtomicInteger asked = new AtomicInteger();
    private final Map<String, Long> tats = new HashMap<>();
    private final ManualClock clock;

    HeldStore(ManualClock clock) {
      this.clock = clock;
    }

    @Override
    public Outcome acquire(String key, long incrementNanos, long toleranceNanos) {
      throw new AssertionError("the filter must not block on a remote store");
    }

    @Override
    public CompletionStage<Outcome> acquireAsync(String key, long incrementNanos,
        long toleranceNanos) {
      asked.incrementAndGet();
      Pending p = new Pending(this, key, incrementNanos, toleranceNanos);
      pending.add(p);
      return p.result;
    }

    @Override
    public boolean isRemote() {
      return true;
    }

    synchronized Outcome step(String key, long increment, long tolerance) {
      long now = clock.nanoTime();
      long tat = Math.max(tats.getOrDefault(key, now), now);
      long newTat = tat + increment;
      if (newTat - now <= tolerance) {
        tats.put(key, newTat);
        return new Outcome(true, newTat, now);
      }
      return new Outcome(false, tat, now);
    }

    /** The next step the filter asked for. */
    Pending next() throws InterruptedException {
      Pending p = pending.poll(10, TimeUnit.SECONDS);
      assertThat(p).as("a step the filter asked the store for").isNotNull();
      return p;
    }
  }

  /** One step the filter waits for. */
  static final class Pending {
    final CompletableFuture<RateLimitStore.Outcome> result = new CompletableFuture<>();
    private final HeldStore store;
    final String key;
    private final long increment;
    private final long tolerance;

    Pending(HeldStore store, String key, long increment, long tolerance) {
      this.store = store;
      this.key = key;
      this.increment = increment;
      this.tolerance = tolerance;
    }

    /** Runs the step now: allowed or refused as GCRA decides. */
    void answer() {
      result.complete(store.step(key, increment, tolerance));
    }

    void fail() {
      result.completeExceptionally(new RateLimitStoreException(
          "store at 10.9.8.7:5432 timed out after 100 ms", null));
    }
  }

  /** Counts every outcome the filter reports. */
  static final class Outcomes implements FilterListener {
    private final Map<FilterOutcome, Integer> counts = new EnumMap<>(FilterOutcome.class);

    @Override
    public synchronized void onOutcome(String rule, FilterOutcome outcome) {
      counts.merge(outcome, 1, Integer::sum);
    }

    synchronized Map<FilterOutcome, Integer> counts() {
      return new EnumMap<>(counts);
    }
  }

  /** Echoes the body; counts calls. */
  static final class Echo extends HttpServlet {
    private static final long serialVersionUID = 1L;
    final AtomicInteger calls = new AtomicInteger();

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      calls.incrementAndGet();
      byte[] body = req.getInputStream().readAllBytes();
      res.setContentType("text/plain;charset=utf-8");
      res.getWriter().write("echo:" + new String(body, StandardCharsets.UTF_8));
    }
  }

  /** Answers 200 "up" on a route no rule matches. */
  static final class Up extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      res.setContentType("text/plain");
      res.getWriter().write("up");
    }
  }

  /** A quota that counts what it consumes. */
  static final class CountingQuota implements QuotaGate {
    final AtomicInteger consumed = new AtomicInteger();

    @Override
    public QuotaDecision consume(String subject, String quota, int amount, String requestId) {
      int used = consumed.addAndGet(amount);
      return new QuotaDecision(true, used, 100, 100 - used,
          Instant.parse("2030-01-01T00:00:00Z"), quota);
    }

    @Override
    public boolean refund(String subject, String quota, String requestId) {
      return false;
    }
  }

  private RateLimiter<String> remote(String name, int limit) {
    RateLimiter<String> limiter = RateLimiter.builder().name(name)
        .limit(limit, Duration.ofMinutes(1)).clock(clock).build(store);
    assertThat(limiter.isLocal()).isFalse();
    return limiter;
  }

  private RateLimiter<String> local(String name, int limit) {
    RateLimiter<String> limiter = RateLimiter.builder().name(name)
        .limit(limit, Duration.ofMinutes(1)).clock(clock).build();
    assertThat(limiter.isLocal()).isTrue();
    return limiter;
  }

  private SluiceFilter.Builder filter() {
    return SluiceFilter.builder().clock(clock).listener(outcomes);
  }

  private void start(SluiceFilter filter, HttpServlet servlet, int threads) throws Exception {
    server = container(threads).filter(filter).servlet("/api/*", servlet)
        .servlet("/up", new Up()).start();
  }

  private CompletableFuture<HttpResponse<String>> sendAsync(String path, String body,
      String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(server.uri(path))
        .timeout(Duration.ofSeconds(20));
    b = body == null ? b.GET() : b.POST(HttpRequest.BodyPublishers.ofString(body));
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return server.client().sendAsync(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> done(CompletableFuture<HttpResponse<String>> response)
      throws Exception {
    return response.get(10, TimeUnit.SECONDS);
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    Await.until(condition, WAIT, what);
  }

  @Test
  void requestsWaitingOnTheStore_holdNoContainerThread() throws Exception {
    SluiceFilter f = filter()
        .rule(RouteRule.builder("chat").path("/api/chat").perIp(remote("chat", 5)).build())
        .build();
    Echo echo = new Echo();
    // Eight threads in all; twenty requests wait on the store at once, and another route is
    // still served: none of them holds a thread.
    start(f, echo, 8);
    List<CompletableFuture<HttpResponse<String>>> waiting = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      waiting.add(sendAsync("/api/chat", null));
    }
    await(() -> store.pending.size() == 20, "twenty steps pending in the store at once");
    HttpResponse<String> other = server.get("/up");
    assertThat(other.statusCode()).isEqualTo(200);
    assertThat(other.body()).isEqualTo("up");
    assertThat(waiting).noneMatch(CompletableFuture::isDone);

    for (int i = 0; i < 20; i++) {
      store.next().answer(); // five allowed, then the limit refuses
    }
    int ok = 0;
    int limited = 0;
    for (CompletableFuture<HttpResponse<String>> r : waiting) {
      int status = done(r).statusCode();
      if (status == 200) {
        ok++;
      } else if (status == 429) {
        limited++;
      }
    }
    assertThat(ok).isEqualTo(5);
    assertThat(limited).isEqualTo(15);
    assertThat(echo.calls).hasValue(5);
    FilterStats stats = f.stats("chat");
    assertThat(stats.admitted()).isEqualTo(5);
    assertThat(stats.rateLimited()).isEqualTo(15);
    assertThat(stats.storeFailures()).isZero();
    await(() -> outcomes.counts().getOrDefault(FilterOutcome.ADMITTED, 0) == 5,
        "five admitted outcomes");
    assertThat(outcomes.counts()).containsExactlyInAnyOrderEntriesOf(
        Map.of(FilterOutcome.ADMITTED, 5, FilterOutcome.RATE_LIMITED, 15));
    assertThat(store.asked).hasValue(20);
  }

  @Test
  void answersOverARemoteStore_areIdenticalToTheLocalOnes() throws Exception {
    SluiceFilter f = filter()
        .rule(RouteRule.builder("local").path("/api/local").perIp(local("chat", 2)).build())
        .rule(RouteRule.builder("remote").path("/api/remote").perIp(remote("chat", 2)).build())
        .build();
    start(f, new Echo(), 8);
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> local = server.send(HttpRequest.newBuilder(server.uri("/api/local"))
          .POST(HttpRequest.BodyPublishers.ofString("body " + i)));
      CompletableFuture<HttpResponse<String>> pending = sendAsync("/api/remote", "body " + i);
      store.next().answer();
      HttpResponse<String> remote = done(pending);
      assertThat(remote.statusCode()).isEqualTo(local.statusCode()).isEqualTo(i < 2 ? 200 : 429);
      assertThat(remote.body()).isEqualTo(local.body());
      for (String h : List.of("RateLimit-Policy", "RateLimit", "Retry-After", "Content-Type",
          "Cache-Control")) {
        assertThat(remote.headers().allValues(h)).as(h).isEqualTo(local.headers().allValues(h));
      }
      if (i < 2) {
        assertThat(remote.body()).isEqualTo("echo:body " + i);
        assertThat(remote.headers().firstValue("RateLimit")).isPresent();
      } else {
        JsonNode json = ServletContainer.json(remote);
        assertThat(json.get("error").asText()).isEqualTo("rate_limited");
        assertThat(remote.headers().firstValue("Retry-After")).hasValue("30");
      }
    }
    assertThat(f.stats("remote")).isEqualTo(f.stats("local"));
  }

  @Test
  void remoteLimitsPerIpAndPerUser_thenQuotaAndQueue_runOnceEachInOrder() throws Exception {
    queue = RequestQueue.builder().maxConcurrent(1).maxQueued(10).priorities("chat")
        .timeout(Duration.ofSeconds(60)).build();
    CountingQuota quota = new CountingQuota();
    SluiceFilter f = filter().queue(queue).quotaGate(quota)
        .userKeyResolver(r -> r.getHeader("X-User"))
        .rule(RouteRule.builder("chat").path("/api/chat").perIp(remote("ip", 10))
            .perUser(remote("user", 10)).quota("chat").queuePriority("chat").build())
        .build();
    Echo echo = new Echo();
    start(f, echo, 8);
    CompletableFuture<HttpResponse<String>> r = sendAsync("/api/chat", "hello", "X-User", "ann");
    Pending perIp = store.next();
    assertThat(perIp.key).isEqualTo("127.0.0.1");
    assertThat(quota.consumed).hasValue(0);
    perIp.answer();
    Pending perUser = store.next();
    assertThat(perUser.key).isEqualTo("ann");
    assertThat(quota.consumed).hasValue(0);
    perUser.answer();
    HttpResponse<String> response = done(r);
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo("echo:hello");
    assertThat(response.headers().firstValue("RateLimit-Policy"))
        .hasValue("\"ip\";q=10;w=60, \"user\";q=10;w=60");
    assertThat(quota.consumed).hasValue(1);
    assertThat(queue.stats().admitted()).isEqualTo(1);
    assertThat(queue.stats().active()).isZero();
    assertThat(echo.calls).hasValue(1);
    assertThat(store.asked).hasValue(2);
  }

  @Test
  void aFailingStore_followsTheRulesFailOpenOrClosedChoice() throws Exception {
    SluiceFilter f = filter()
        .rule(RouteRule.builder("open").path("/api/open").perIp(remote("open", 5))
            .failOpen(true).build())
        .rule(RouteRule.builder("closed").path("/api/closed").perIp(remote("closed", 5)).build())
        .build();
    Echo echo = new Echo();
    start(f, echo, 8);
    CompletableFuture<HttpResponse<String>> open = sendAsync("/api/open", "in");
    store.next().fail();
    HttpResponse<String> opened = done(open);
    assertThat(opened.statusCode()).isEqualTo(200);
    assertThat(opened.body()).isEqualTo("echo:in");
    assertThat(opened.headers().firstValue("RateLimit")).isEmpty();

    CompletableFuture<HttpResponse<String>> closed = sendAsync("/api/closed", "out");
    store.next().fail();
    HttpResponse<String> refused = done(closed);
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(refused.headers().firstValue("Content-Type")).hasValueSatisfying(
        t -> assertThat(t).startsWith("application/json"));
    assertThat(refused.headers().firstValue("Retry-After")).hasValue("1");
    assertThat(ServletContainer.json(refused).get("error").asText()).isEqualTo("unavailable");
    assertThat(refused.body()).doesNotContain("10.9.8.7", "Exception");

    assertThat(echo.calls).hasValue(1);
    assertThat(f.stats("open").storeFailures()).isEqualTo(1);
    assertThat(f.stats("open").admitted()).isEqualTo(1);
    assertThat(f.stats("closed").storeFailures()).isEqualTo(1);
    assertThat(f.stats("closed").admitted()).isZero();
    assertThat(f.healthContributor().check().score()).isEqualTo(40);
    await(() -> outcomes.counts().getOrDefault(FilterOutcome.ADMITTED, 0) == 1,
        "the admitted outcome");
    assertThat(outcomes.counts()).containsExactlyInAnyOrderEntriesOf(Map.of(
        FilterOutcome.STORE_FAILURE_OPEN, 1, FilterOutcome.ADMITTED, 1,
        FilterOutcome.STORE_FAILURE_CLOSED, 1));
  }

  @Test
  void aStoreThatNeverAnswers_is503AfterTheRemoteStoreTimeout_andItsLateAnswerChangesNothing()
      throws Exception {
    SluiceFilter f = filter().remoteStoreTimeout(Duration.ofMillis(200))
        .rule(RouteRule.builder("chat").path("/api/chat").perIp(remote("chat", 5))
            .failOpen(true).build())
        .build();
    Echo echo = new Echo();
    start(f, echo, 8);
    CompletableFuture<HttpResponse<String>> r = sendAsync("/api/chat", null);
    Pending silent = store.next();
    HttpResponse<String> response = done(r);
    assertThat(response.statusCode()).isEqualTo(503);
    assertThat(ServletContainer.json(response).get("error").asText()).isEqualTo("unavailable");
    assertThat(f.stats("chat").storeFailures()).isEqualTo(1);

    silent.answer(); // far too late: dropped
    assertThat(echo.calls).hasValue(0);
    assertThat(f.stats("chat").admitted()).isZero();
    assertThat(outcomes.counts()).containsExactlyInAnyOrderEntriesOf(
        Map.of(FilterOutcome.STORE_FAILURE_CLOSED, 1));
  }

  @Test
  void aClientThatLeavesWhileTheStoreAnswers_isAClientAbort_andNothingIsChargedAfter()
      throws Exception {
    if (!seesSuspendedDisconnects()) {
      System.out.println("SKIPPED: Tomcat does not report a client that leaves while its request"
          + " is suspended without a body to read (see SluiceFilterQueueTomcatTest); the"
          + " remote store timeout bounds such a wait there");
      Assumptions.abort("the container cannot see a suspended request's client leave");
    }
    CountingQuota quota = new CountingQuota();
    SluiceFilter f = filter().quotaGate(quota).userKeyResolver(r -> "ann")
        .rule(RouteRule.builder("chat").path("/api/chat").perIp(remote("ip", 5))
            .perUser(remote("user", 5)).quota("chat").build())
        .build();
    Echo echo = new Echo();
    start(f, echo, 8);
    Pending perIp;
    try (Socket socket = RawHttp.connect(server)) {
      RawHttp.write(socket, "GET /api/chat HTTP/1.1\r\nHost: test\r\n\r\n");
      perIp = store.next();
    }
    await(() -> f.stats("chat").clientAborts() == 1, "the departed client is counted");
    perIp.answer(); // its completion runs here, on this thread, and finds the request ended
    // Nothing after the departure: no per-user step, no quota, no handler.
    assertThat(store.pending).isEmpty();
    assertThat(store.asked).hasValue(1);
    assertThat(quota.consumed).hasValue(0);
    assertThat(echo.calls).hasValue(0);
    FilterStats stats = f.stats("chat");
    assertThat(stats.admitted()).isZero();
    assertThat(stats.failed()).isZero();
    assertThat(stats.storeFailures()).isZero();
    assertThat(outcomes.counts()).containsExactlyInAnyOrderEntriesOf(
        Map.of(FilterOutcome.CLIENT_ABORT, 1));
    // And the filter still serves.
    CompletableFuture<HttpResponse<String>> next = sendAsync("/api/chat", "again");
    store.next().answer();
    store.next().answer();
    assertThat(done(next).body()).isEqualTo("echo:again");
  }

  @Test
  void aBodyThatArrivesAfterTheStoreAnswered_isReadWithoutAThread_thenTheHandlerRuns()
      throws Exception {
    SluiceFilter f = filter()
        .rule(RouteRule.builder("chat").path("/api/chat").perIp(remote("chat", 5)).build())
        .build();
    Echo echo = new Echo();
    start(f, echo, 8);
    try (SlowClient c = SlowClient.connect(server.uri("/"))) {
      c.head("POST", "/api/chat", "Content-Length: 5");
      store.next().answer();
      // After the store's answer the request is suspended again, now to read its body.
      await(() -> f.stats("chat").readingBodies() == 1, "the server waits for the body");
      SlowClient.Response r = c.send("later").read();
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("echo:later");
      assertThat(r.header("RateLimit")).isEqualTo("\"chat\";r=4;t=12");
    }
    assertThat(echo.calls).hasValue(1);
    await(() -> outcomes.counts().getOrDefault(FilterOutcome.ADMITTED, 0) == 1,
        "the admitted outcome");
    assertThat(outcomes.counts()).containsExactlyInAnyOrderEntriesOf(
        Map.of(FilterOutcome.ADMITTED, 1));
    assertThat(f.stats("chat").readingBodies()).isZero();
  }
}
