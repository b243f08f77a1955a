package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.QuotaDecision;
import dev.sluice.QuotaGate;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.testing.Await;
import dev.sluice.testing.ManualScheduler;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The filter's listeners: every way a request ends, exactly counted, in Jetty 12. */
class FilterListenerTest {
  private final ManualScheduler timer = new ManualScheduler();
  private ServletContainer server;
  private RequestQueue<String> queue;

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
    if (queue != null) {
      queue.close();
    }
  }

  /** Records outcomes per rule, in order. */
  static final class Recorder implements FilterListener {
    final String name;
    final List<String> heard;

    Recorder(String name, List<String> heard) {
      this.name = name;
      this.heard = heard;
    }

    @Override
    public void onOutcome(String rule, FilterOutcome outcome) {
      synchronized (heard) {
        heard.add(name + ":" + rule + ":" + outcome);
      }
    }
  }

  /** Counts outcomes. */
  static final class Counts implements FilterListener {
    private final Map<FilterOutcome, Integer> counts = new EnumMap<>(FilterOutcome.class);

    @Override
    public synchronized void onOutcome(String rule, FilterOutcome outcome) {
      counts.merge(outcome, 1, Integer::sum);
    }

    synchronized Map<FilterOutcome, Integer> get() {
      return new EnumMap<>(counts);
    }
  }

  /** Answers "ok"; throws on /api/boom; waits on /api/slow while {@link #hold} is closed. */
  static final class Handler extends HttpServlet {
    private static final long serialVersionUID = 1L;
    final AtomicInteger calls = new AtomicInteger();
    volatile CountDownLatch hold = new CountDownLatch(0);
    final CountDownLatch entered = new CountDownLatch(1);

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      calls.incrementAndGet();
      if (req.getRequestURI().endsWith("/boom")) {
        throw new IllegalStateException("bug");
      }
      if (req.getRequestURI().endsWith("/slow")) {
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
      }
      res.setContentType("text/plain");
      res.getWriter().write("ok");
    }
  }

  /** A quota of one per subject, always refusing after. */
  static final class OneQuota implements QuotaGate {
    final Map<String, Integer> used = new java.util.concurrent.ConcurrentHashMap<>();

    @Override
    public QuotaDecision consume(String subject, String quota, int amount, String requestId) {
      int before = used.merge(subject, amount, Integer::sum) - amount;
      boolean ok = before + amount <= 1;
      if (!ok) {
        used.merge(subject, -amount, Integer::sum);
      }
      return new QuotaDecision(ok, ok ? before + amount : before, 1, ok ? 0 : 1 - before,
          Instant.parse("2030-01-01T00:00:00Z"), quota);
    }

    @Override
    public boolean refund(String subject, String quota, String requestId) {
      return false;
    }
  }

  private RateLimiter<String> limit(String name, int calls) {
    return RateLimiter.builder().name(name).limit(calls, Duration.ofMinutes(1))
        .clock(timer::nanoTime).build();
  }

  private HttpResponse<String> post(String path, String body) throws Exception {
    return server.send(HttpRequest.newBuilder(server.uri(path))
        .POST(HttpRequest.BodyPublishers.ofString(body)));
  }

  @Test
  void everyWayARequestEnds_isReportedOnce_withExactCounts() throws Exception {
    queue = RequestQueue.builder().maxConcurrent(1).maxQueued(1).priorities("slow")
        .timeout(Duration.ofSeconds(60)).clock(timer::nanoTime).scheduler(timer).build();
    Counts counts = new Counts();
    SluiceFilter f = SluiceFilter.builder().clock(timer::nanoTime).timer(timer).queue(queue)
        .quotaGate(new OneQuota()).userKeyResolver(r -> r.getHeader("X-User"))
        .listener(counts)
        .rule(RouteRule.builder("limited").path("/api/limited").perIp(limit("l", 2))
            .maxBodySize(10).build())
        .rule(RouteRule.builder("quota").path("/api/quota").quota("q").build())
        .rule(RouteRule.builder("boom").path("/api/boom").build())
        .rule(RouteRule.builder("shadow").path("/api/shadow").perIp(limit("s", 1))
            .shadow(true).build())
        .rule(RouteRule.builder("slow").path("/api/slow").queuePriority("slow").build())
        .build();
    Handler handler = new Handler();
    server = new JettyHarness(16).filter(f).servlet("/api/*", handler).start();

    assertThat(post("/api/limited", "a").statusCode()).isEqualTo(200);
    assertThat(post("/api/limited", "b").statusCode()).isEqualTo(200);
    assertThat(post("/api/limited", "c").statusCode()).isEqualTo(429);
    assertThat(post("/api/limited", "far more than ten bytes").statusCode()).isEqualTo(413);
    assertThat(server.post("/api/quota", "X-User", "ann").statusCode()).isEqualTo(200);
    assertThat(server.post("/api/quota", "X-User", "ann").statusCode()).isEqualTo(429);
    assertThat(post("/api/boom", "x").statusCode()).isEqualTo(500);
    assertThat(post("/api/shadow", "x").statusCode()).isEqualTo(200);
    assertThat(post("/api/shadow", "x").statusCode()).isEqualTo(200); // would have refused

    // The queue: one runs (held), one waits and times out, one is refused at once (full).
    handler.hold = new CountDownLatch(1);
    CompletableFuture<HttpResponse<String>> running = sendAsync("/api/slow");
    assertThat(handler.entered.await(10, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<HttpResponse<String>> waiting = sendAsync("/api/slow");
    Await.until(() -> queue.stats().queued() == 1, Duration.ofSeconds(10), "one queued");
    assertThat(post("/api/slow", "x").statusCode()).isEqualTo(503);
    timer.advance(Duration.ofSeconds(60));
    assertThat(waiting.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(503);
    handler.hold.countDown();
    assertThat(running.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    Await.until(() -> counts.get().getOrDefault(FilterOutcome.ADMITTED, 0) == 6,
        Duration.ofSeconds(10), "six admitted");

    assertThat(counts.get()).containsExactlyInAnyOrderEntriesOf(Map.of(
        FilterOutcome.ADMITTED, 6, // 2 limited, 1 quota, 2 shadow, 1 slow
        FilterOutcome.RATE_LIMITED, 1,
        FilterOutcome.BODY_TOO_LARGE, 1,
        FilterOutcome.QUOTA_EXCEEDED, 1,
        FilterOutcome.FAILED, 1,
        FilterOutcome.SHADOW_REFUSAL, 1,
        FilterOutcome.QUEUE_TIMEOUT, 1,
        FilterOutcome.QUEUE_REJECTED, 1));
    // The same figures as the stats.
    FilterStats total = f.stats();
    assertThat(total.rateLimited()).isEqualTo(1);
    assertThat(total.bodyTooLarge()).isEqualTo(1);
    assertThat(total.quotaExceeded()).isEqualTo(1);
    assertThat(total.failed()).isEqualTo(1);
    assertThat(total.shadowRefusals()).isEqualTo(1);
    assertThat(total.shed()).isEqualTo(2);
    assertThat(total.admitted()).isEqualTo(7); // the six plus the one that failed
  }

  private CompletableFuture<HttpResponse<String>> sendAsync(String path) {
    return server.client().sendAsync(HttpRequest.newBuilder(server.uri(path))
        .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString("x")).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aThrowingListener_breaksNoRequest_andTheNextListenerStillHears_inOrder() throws Exception {
    List<String> heard = new ArrayList<>();
    AtomicInteger thrown = new AtomicInteger();
    FilterListener throwing = new FilterListener() {
      @Override
      public void onOutcome(String rule, FilterOutcome outcome) {
        thrown.incrementAndGet();
        throw new IllegalStateException("listener bug");
      }
    };
    SluiceFilter f = SluiceFilter.builder().clock(timer::nanoTime).timer(timer)
        .listener(new Recorder("first", heard)).listener(throwing)
        .listener(new Recorder("third", heard))
        .rule(RouteRule.builder("chat").path("/api/chat").perIp(limit("chat", 1)).build())
        .build();
    server = new JettyHarness(8).filter(f).servlet("/api/*", new Handler()).start();
    assertThat(post("/api/chat", "a").statusCode()).isEqualTo(200);
    assertThat(post("/api/chat", "b").statusCode()).isEqualTo(429);
    assertThat(post("/api/chat", "c").statusCode()).isEqualTo(429);
    assertThat(thrown).hasValue(3);
    synchronized (heard) {
      assertThat(heard).containsExactly(
          "first:chat:ADMITTED", "third:chat:ADMITTED",
          "first:chat:RATE_LIMITED", "third:chat:RATE_LIMITED",
          "first:chat:RATE_LIMITED", "third:chat:RATE_LIMITED");
    }
    assertThat(f.stats().failed()).isZero();
  }

  @Test
  void addListener_atRunTime_hearsOnlyLaterRequests() throws Exception {
    SluiceFilter f = SluiceFilter.builder().clock(timer::nanoTime).timer(timer)
        .rule(RouteRule.builder("chat").path("/api/chat").build()).build();
    server = new JettyHarness(8).filter(f).servlet("/api/*", new Handler()).start();
    assertThat(post("/api/chat", "before").statusCode()).isEqualTo(200);
    List<String> heard = new ArrayList<>();
    f.addListener(FilterListener.onOutcome((rule, outcome) -> {
      synchronized (heard) {
        heard.add(rule + ":" + outcome);
      }
    }));
    f.addListener(new Recorder("second", heard));
    assertThat(post("/api/chat", "after").statusCode()).isEqualTo(200);
    synchronized (heard) {
      assertThat(heard).containsExactly("chat:ADMITTED", "second:chat:ADMITTED");
    }
    assertThatThrownBy(() -> f.addListener(null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void ruleNamesAndPerRuleStats_areWhatAMetricsBinderNeeds() {
    SluiceFilter f = SluiceFilter.builder()
        .rule(RouteRule.builder("chat").path("/api/chat").build())
        .rule(RouteRule.builder("export").path("/api/export").build()).build();
    assertThat(f.ruleNames()).containsExactly("chat", "export");
    assertThatThrownBy(() -> f.ruleNames().add("x"))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThat(f.stats("export")).isEqualTo(new FilterStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    assertThatThrownBy(() -> SluiceFilter.builder().remoteStoreTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("remoteStoreTimeout");
    assertThatThrownBy(() -> SluiceFilter.builder().listener(null))
        .isInstanceOf(NullPointerException.class);
  }
}
