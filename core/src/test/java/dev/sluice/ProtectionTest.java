package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ProtectionTest {
  private final ManualClock clock = new ManualClock();
  private final ManualScheduler scheduler = new ManualScheduler(clock);
  private final List<String> trace = new ArrayList<>();
  private final FakeQuota quota = new FakeQuota(2);

  /** An in-memory QuotaGate for tests: a per-subject allowance, idempotent by request id. */
  final class FakeQuota implements QuotaGate {
    final int limit;
    final Map<String, Integer> used = new HashMap<>();
    final Set<String> consumed = new HashSet<>();

    FakeQuota(int limit) {
      this.limit = limit;
    }

    @Override
    public synchronized QuotaDecision consume(String subject, String quotaName, int amount,
        String requestId) {
      trace.add("quota");
      int u = used.getOrDefault(subject, 0);
      boolean allowed = u + amount <= limit;
      if (allowed) {
        used.put(subject, u + amount);
        consumed.add(requestId);
        u += amount;
      }
      return new QuotaDecision(allowed, u, limit, Math.max(0, limit - u), Instant.EPOCH, quotaName);
    }

    @Override
    public synchronized boolean refund(String subject, String quotaName, String requestId) {
      trace.add("refund");
      if (!consumed.remove(requestId)) {
        return false;
      }
      used.merge(subject, -1, Integer::sum);
      return true;
    }
  }

  /** A custom stage (where a RequestQueue would plug in) that records that it was entered. */
  final class TracingStage implements Stage {
    @Override
    public String name() {
      return "queue:test";
    }

    @Override
    public <T> T call(CallContext context, Callable<T> next) throws Exception {
      trace.add("queue");
      return next.call();
    }

    @Override
    public <T> CompletableFuture<T> callAsync(CallContext context,
        Supplier<CompletableFuture<T>> next) {
      trace.add("queue");
      return next.get();
    }
  }

  enum Mode {
    SYNC, ASYNC;

    <T> T run(Protection p, CallContext ctx, Callable<T> work, ManualScheduler scheduler)
        throws Exception {
      if (this == SYNC) {
        return p.call(ctx, work);
      }
      CompletableFuture<T> f = p.callAsync(ctx, () -> {
        try {
          return CompletableFuture.completedFuture(work.call());
        } catch (Exception e) {
          return CompletableFuture.failedFuture(e);
        }
      });
      try {
        return scheduler.await(f);
      } catch (ExecutionException e) {
        throw (Exception) e.getCause();
      }
    }
  }

  private RateLimiter<String> limiter(int perMinute) {
    RateLimiter<String> real = RateLimiter.builder().name("chat")
        .limit(perMinute, Duration.ofMinutes(1)).clock(clock).build();
    RateLimitCounter counter = RateLimitCounter.create("chat", Duration.ofMinutes(1), clock);
    RateLimiter<String> counted = counter.wrap(real);
    return new TracingLimiter(counted);
  }

  /** Records when the rate limit is asked, delegating everything. */
  final class TracingLimiter implements RateLimiter<String> {
    private final RateLimiter<String> d;

    TracingLimiter(RateLimiter<String> d) {
      this.d = d;
    }

    @Override
    public RateLimitDecision tryAcquire(String key) {
      trace.add("rateLimit");
      return d.tryAcquire(key);
    }

    @Override
    public RateLimitDecision tryAcquire(String key, int cost) {
      trace.add("rateLimit");
      return d.tryAcquire(key, cost);
    }

    @Override
    public boolean tryAcquirePermit(String key) {
      trace.add("rateLimit");
      return d.tryAcquirePermit(key);
    }

    @Override
    public String name() {
      return d.name();
    }

    @Override
    public int limit() {
      return d.limit();
    }

    @Override
    public Duration period() {
      return d.period();
    }

    @Override
    public int burst() {
      return d.burst();
    }

    @Override
    public Duration emissionInterval() {
      return d.emissionInterval();
    }
  }

  private OutboundGuard guard() {
    return OutboundGuard.builder().name("pubmed").clock(clock).scheduler(scheduler).build();
  }

  private Protection full(RateLimiter<String> limiter) {
    return Protection.builder().rateLimit(limiter).quota(quota, "chat").stage(new TracingStage())
        .outbound(guard()).build();
  }

  private Callable<String> work(String result) {
    return () -> {
      trace.add("work");
      return result;
    };
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void allStages_runInTheStatedOrder_outermostFirst(Mode mode) throws Exception {
    Protection p = full(limiter(5));
    assertThat(p.stageNames())
        .containsExactly("rateLimit:chat", "quota:chat", "queue:test", "outbound:pubmed");
    assertThat(mode.run(p, CallContext.of("alice"), work("answer"), scheduler))
        .isEqualTo("answer");
    assertThat(trace).containsExactly("rateLimit", "quota", "queue", "work");
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void rateLimitRefusal_neverReachesQuotaQueueOrWork(Mode mode) throws Exception {
    Protection p = full(limiter(1));
    mode.run(p, CallContext.of("alice"), work("first"), scheduler);
    trace.clear();
    assertThatThrownBy(() -> mode.run(p, CallContext.of("alice"), work("second"), scheduler))
        .isInstanceOf(RateLimitExceededException.class);
    assertThat(trace).containsExactly("rateLimit");
    assertThat(quota.used).containsEntry("alice", 1);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void quotaRefusal_neverReachesQueueOrWork(Mode mode) throws Exception {
    Protection p = full(limiter(10));
    mode.run(p, CallContext.of("alice"), work("1"), scheduler);
    mode.run(p, CallContext.of("alice"), work("2"), scheduler);
    trace.clear();
    assertThatThrownBy(() -> mode.run(p, CallContext.of("alice"), work("3"), scheduler))
        .isInstanceOfSatisfying(QuotaExceededException.class,
            e -> assertThat(e.decision().used()).isEqualTo(2));
    assertThat(trace).containsExactly("rateLimit", "quota");
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void failingWork_refundsTheQuota(Mode mode) {
    Protection p = full(limiter(10));
    assertThatThrownBy(() -> mode.run(p, CallContext.of("alice"), () -> {
      trace.add("work");
      throw new IOException("pubmed down");
    }, scheduler)).isInstanceOf(IOException.class);
    assertThat(trace).containsExactly("rateLimit", "quota", "queue", "work", "refund");
    assertThat(quota.used).containsEntry("alice", 0);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void openBreakerInsideTheGuard_refundsTheQuota(Mode mode) throws Exception {
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(clock)
        .failureThreshold(1).build();
    breaker.recordFailure(Duration.ZERO);
    OutboundGuard g = OutboundGuard.builder().name("pubmed").clock(clock).scheduler(scheduler)
        .circuitBreaker(breaker).build();
    Protection p = Protection.builder().quota(quota, "chat").outbound(g).build();
    assertThatThrownBy(() -> mode.run(p, CallContext.of("bob"), work("x"), scheduler))
        .isInstanceOf(CircuitOpenException.class);
    assertThat(trace).containsExactly("quota", "refund");
    assertThat(quota.used).containsEntry("bob", 0);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void eachStage_worksAlone(Mode mode) throws Exception {
    List<Protection> alone = List.of(
        Protection.builder().rateLimit(limiter(5)).build(),
        Protection.builder().quota(quota, "chat").build(),
        Protection.builder().stage(new TracingStage()).build(),
        Protection.builder().outbound(guard()).build(),
        Protection.builder().build());
    List<List<String>> traces = new ArrayList<>();
    for (Protection p : alone) {
      trace.clear();
      assertThat(mode.run(p, CallContext.of("carol"), work("ok"), scheduler)).isEqualTo("ok");
      traces.add(List.copyOf(trace));
    }
    assertThat(traces).containsExactly(
        List.of("rateLimit", "work"), List.of("quota", "work"), List.of("queue", "work"),
        List.of("work"), List.of("work"));
  }

  @Test
  void stageAfterOutboundGuard_failsAtBuild() {
    assertThatThrownBy(() -> Protection.builder().outbound(guard()).quota(quota, "chat").build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("quota:chat").hasMessageContaining("last");
  }

  @Test
  void callAsync_cancellingTheResult_cancelsTheWork() throws Exception {
    Protection p = Protection.builder().quota(quota, "chat").build();
    CompletableFuture<String> work = new CompletableFuture<>();
    CompletableFuture<String> f = p.callAsync(CallContext.of("dave"), () -> work);
    f.cancel(true);
    assertThat(work.isCancelled()).isTrue();
    assertThat(quota.used).containsEntry("dave", 0);
    assertThatThrownBy(() -> f.get(5, TimeUnit.SECONDS))
        .isInstanceOf(java.util.concurrent.CancellationException.class);
  }

  @Test
  void callContext_validatesAndCarriesAttributes() {
    CallContext ctx = CallContext.of("erin").with("priority", "chat");
    assertThat(ctx.attribute("priority")).contains("chat");
    assertThat(ctx.requestId()).isNotBlank();
    assertThatThrownBy(() -> CallContext.of(" ")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("key");
  }
}
