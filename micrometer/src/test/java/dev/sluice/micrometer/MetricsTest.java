package dev.sluice.micrometer;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.CircuitBreaker;
import dev.sluice.CircuitOpenException;
import dev.sluice.ComponentHealth;
import dev.sluice.HealthMonitor;
import dev.sluice.OutboundGuard;
import dev.sluice.QuotaDecision;
import dev.sluice.QuotaEvents;
import dev.sluice.QuotaListener;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.RetryPolicy;
import dev.sluice.testing.ManualClock;
import dev.sluice.testing.ManualScheduler;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Each binder, driven on a manual clock: exact counts, and no unbounded tag. */
class MetricsTest {
  /** Every tag key a Sluice meter may carry; none of them is a key, user or address. */
  private static final Set<String> BOUNDED_TAGS =
      Set.of("name", "outcome", "reason", "state", "priority", "quota", "component", "from", "to",
          "app");

  private final ManualClock clock = new ManualClock();
  private final ManualScheduler scheduler = new ManualScheduler(clock);
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  @AfterEach
  void onlyBoundedTags() {
    for (Meter m : registry.getMeters()) {
      assertThat(m.getId().getName()).startsWith("sluice.");
      for (Tag t : m.getId().getTags()) {
        assertThat(BOUNDED_TAGS).as("tag of %s", m.getId()).contains(t.getKey());
        assertThat(t.getValue()).doesNotStartWith("user-").doesNotStartWith("10.0.");
      }
    }
  }

  private double count(String name, String... tags) {
    return registry.get(name).tags(tags).counter().count();
  }

  @Test
  void rateLimiter_countsDecisionsByOutcome() {
    RateLimiter<String> chat = RateLimiter.builder().name("chat")
        .limit(3, Duration.ofMinutes(1)).clock(clock).build();
    new RateLimiterMetrics(chat, Tags.of("app", "demo")).bindTo(registry);
    for (int i = 0; i < 5; i++) {
      chat.tryAcquire("10.0.0.1");
    }
    chat.tryAcquirePermit("user-2");
    clock.advance(Duration.ofSeconds(20)); // one call's worth refills
    chat.tryAcquire("10.0.0.1");

    assertThat(count("sluice.ratelimit.decisions", "name", "chat", "outcome", "allowed",
        "app", "demo")).isEqualTo(5);
    assertThat(count("sluice.ratelimit.decisions", "name", "chat", "outcome", "refused"))
        .isEqualTo(2);
    assertThat(count("sluice.ratelimit.store.failures", "name", "chat")).isZero();
    assertThat(registry.get("sluice.ratelimit.limit").gauge().value()).isEqualTo(3);
  }

  @Test
  void queue_gaugesCountersAndWaitTimers() throws Exception {
    RequestQueue<String> queue = RequestQueue.builder().name("chat-service").maxConcurrent(1)
        .priorities("chat", "export").timeout(Duration.ofSeconds(10))
        .clock(clock).scheduler(scheduler).build();
    new RequestQueueMetrics(queue).bindTo(registry);

    RequestQueue.Permit first = queue.tryAcquireOrThrow("user-1", "chat");
    CompletableFuture<RequestQueue.Permit> export = queue.acquireAsync("user-2", "export");
    CompletableFuture<RequestQueue.Permit> chat = queue.acquireAsync("user-3", "chat");
    CompletableFuture<RequestQueue.Permit> chat2 = queue.acquireAsync("user-4", "chat");
    assertThat(queue.tryAcquire("user-5", "chat")).isEmpty();
    assertThat(registry.get("sluice.queue.active").gauge().value()).isEqualTo(1);
    assertThat(registry.get("sluice.queue.waiting").tag("priority", "chat").gauge().value())
        .isEqualTo(2);
    assertThat(registry.get("sluice.queue.waiting").tag("priority", "export").gauge().value())
        .isEqualTo(1);

    scheduler.advance(Duration.ofSeconds(3));
    first.close();
    RequestQueue.Permit third = chat.get(5, SECONDS);
    chat2.cancel(false);
    scheduler.advance(Duration.ofSeconds(7)); // the export waiter times out
    assertThat(export).isCompletedExceptionally();
    third.close();

    assertThat(registry.get("sluice.queue.wait").tag("outcome", "admitted").timer().count())
        .isEqualTo(2);
    assertThat(registry.get("sluice.queue.wait").tag("outcome", "admitted").timer()
        .totalTime(SECONDS)).isEqualTo(3);
    assertThat(registry.get("sluice.queue.wait").tag("outcome", "timed_out").timer()
        .totalTime(SECONDS)).isEqualTo(10);
    assertThat(registry.get("sluice.queue.wait").tag("outcome", "cancelled").timer().count())
        .isEqualTo(1);
    assertThat(count("sluice.queue.rejected", "reason", "queue_full")).isEqualTo(1);
    assertThat(count("sluice.queue.rejected", "reason", "timed_out")).isEqualTo(1);
    assertThat(count("sluice.queue.rejected", "reason", "drained")).isZero();
    assertThat(registry.get("sluice.queue.held").timer().count()).isEqualTo(2);
    assertThat(registry.get("sluice.queue.held").timer().totalTime(SECONDS)).isEqualTo(3 + 7);
    assertThat(registry.get("sluice.queue.active").gauge().value()).isZero();
    assertThat(registry.get("sluice.queue.limit").gauge().value()).isEqualTo(1);
  }

  @Test
  void breaker_stateGaugesCallsAndTransitions() throws Exception {
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").failureThreshold(2)
        .openDuration(Duration.ofSeconds(30)).clock(clock).build();
    new CircuitBreakerMetrics(breaker).bindTo(registry);
    assertThat(state("closed")).isEqualTo(1);
    assertThat(state("open")).isZero();

    breaker.call(() -> "ok");
    for (int i = 0; i < 2; i++) {
      assertThatThrownBy(() -> breaker.call(() -> {
        throw new IOException("down");
      })).isInstanceOf(IOException.class);
    }
    assertThatThrownBy(() -> breaker.call(() -> "no")).isInstanceOf(CircuitOpenException.class);

    assertThat(state("closed")).isZero();
    assertThat(state("open")).isEqualTo(1);
    assertThat(state("half_open")).isZero();
    assertThat(count("sluice.breaker.calls", "outcome", "success")).isEqualTo(1);
    assertThat(count("sluice.breaker.calls", "outcome", "failure")).isEqualTo(2);
    assertThat(count("sluice.breaker.calls", "outcome", "not_permitted")).isEqualTo(1);
    assertThat(count("sluice.breaker.transitions", "from", "closed", "to", "open")).isEqualTo(1);

    clock.advance(Duration.ofSeconds(30));
    assertThat(state("half_open")).isEqualTo(1);
    assertThat(count("sluice.breaker.transitions", "from", "open", "to", "half_open"))
        .isEqualTo(1);
    // One success and two failures in the one-minute window.
    assertThat(registry.get("sluice.breaker.failure.rate").gauge().value())
        .isCloseTo(2 / 3.0, org.assertj.core.api.Assertions.within(1e-9));
  }

  private double state(String state) {
    return registry.get("sluice.breaker.state").tag("state", state).gauge().value();
  }

  @Test
  void guard_countsAttemptsRetriesAndCalls() throws Exception {
    OutboundGuard guard = OutboundGuard.builder().name("pubmed").clock(clock).scheduler(scheduler)
        .retry(RetryPolicy.builder().maxAttempts(3).fixedDelay(Duration.ofMillis(100))
            .jitter(0).noBudget().build())
        .build();
    new OutboundGuardMetrics(guard).bindTo(registry);
    AtomicInteger n = new AtomicInteger();
    assertThat(guard.call(() -> {
      if (n.incrementAndGet() < 3) {
        throw new IOException("flaky");
      }
      return "ok";
    })).isEqualTo("ok");
    assertThatThrownBy(() -> guard.call(() -> {
      throw new IOException("down");
    })).isInstanceOf(IOException.class);

    assertThat(count("sluice.guard.attempts")).isEqualTo(6);
    assertThat(count("sluice.guard.retries")).isEqualTo(4);
    assertThat(count("sluice.guard.retry.budget.exhausted")).isZero();
    assertThat(registry.get("sluice.guard.calls").tag("outcome", "success").timer()
        .totalTime(java.util.concurrent.TimeUnit.MILLISECONDS)).isEqualTo(200);
    assertThat(registry.get("sluice.guard.calls").tag("outcome", "failure").timer().count())
        .isEqualTo(1);
    assertThat(registry.get("sluice.guard.pacing.backlog").gauge().value()).isZero();
  }

  /** A quota store stand-in: only the events matter here (the real one is tested on PostgreSQL). */
  static final class FakeQuotaEvents implements QuotaEvents {
    final List<QuotaListener> listeners = new CopyOnWriteArrayList<>();

    @Override
    public void addListener(QuotaListener listener) {
      listeners.add(listener);
    }

    void consume(String subject, String quota, boolean allowed) {
      QuotaDecision d = new QuotaDecision(allowed, 1, 3, allowed ? 2 : 0, Instant.EPOCH, quota);
      for (QuotaListener l : listeners) {
        if (allowed) {
          l.onConsumed(subject, quota, d);
        } else {
          l.onRefused(subject, quota, d);
        }
      }
    }
  }

  @Test
  void quota_countsOutcomesPerQuota_neverPerSubject() {
    FakeQuotaEvents store = new FakeQuotaEvents();
    new QuotaMetrics("main", store).bindTo(registry);
    store.consume("user-1", "chat", true);
    store.consume("user-2", "chat", true);
    store.consume("user-1", "chat", false);
    store.consume("user-1", "export", true);
    store.listeners.forEach(l -> l.onRefunded("user-1", "chat"));
    store.listeners.forEach(l -> l.onStoreFailure("user-3", "export",
        new IllegalStateException("down")));

    assertThat(count("sluice.quota.outcomes", "quota", "chat", "outcome", "consumed"))
        .isEqualTo(2);
    assertThat(count("sluice.quota.outcomes", "quota", "chat", "outcome", "refused")).isEqualTo(1);
    assertThat(count("sluice.quota.outcomes", "quota", "chat", "outcome", "refunded"))
        .isEqualTo(1);
    assertThat(count("sluice.quota.outcomes", "quota", "export", "outcome", "consumed"))
        .isEqualTo(1);
    assertThat(count("sluice.quota.outcomes", "quota", "export", "outcome", "store_failure"))
        .isEqualTo(1);
    assertThat(registry.find("sluice.quota.outcomes").counters()).hasSize(8);
    assertThatThrownBy(() -> new QuotaMetrics(" ", store))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("name");
  }

  @Test
  void health_scoreAndComponentScores_shareOneReportPerScrape() {
    AtomicInteger checks = new AtomicInteger();
    int[] queueScore = {100};
    HealthMonitor monitor = HealthMonitor.builder()
        .add(() -> {
          checks.incrementAndGet();
          return new ComponentHealth("queue", queueScore[0], Map.of(), List.of());
        })
        .add(() -> new ComponentHealth("database", 100, Map.of(), List.of()))
        .build();
    new HealthMetrics(monitor, Duration.ZERO, Tags.empty()).bindTo(registry);
    assertThat(registry.get("sluice.health.score").gauge().value()).isEqualTo(100);
    queueScore[0] = 40;
    assertThat(registry.get("sluice.health.component.score").tag("component", "queue").gauge()
        .value()).isEqualTo(40);
    assertThat(registry.get("sluice.health.component.score").tag("component", "database")
        .gauge().value()).isEqualTo(100);
    assertThat(registry.get("sluice.health.score").gauge().value()).isEqualTo(40);

    // With a long max age, binding takes one report and every gauge read reuses it.
    SimpleMeterRegistry cached = new SimpleMeterRegistry();
    int before = checks.get();
    new HealthMetrics(monitor, Duration.ofHours(1), Tags.empty()).bindTo(cached);
    queueScore[0] = 90;
    assertThat(cached.get("sluice.health.score").gauge().value()).isEqualTo(40);
    assertThat(cached.get("sluice.health.component.score").tag("component", "queue").gauge()
        .value()).isEqualTo(40);
    assertThat(checks.get() - before).isEqualTo(1);
  }
}
