package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class HealthMonitorTest {
  private final ManualClock clock = new ManualClock();

  @ParameterizedTest(name = "{0} of target {1} scores {2}")
  @CsvSource({
      "0, 1, 100", "0.5, 1, 92", "0.96, 1, 85", "0.999, 1, 85", "1, 1, 84", "1.5, 1, 67",
      "2, 1, 50", "2.01, 1, 49", "3, 1, 16", "4, 1, 0", "48, 50, 85", "50, 50, 84",
      "0.07, 0.05, 70", "950, 1000, 85", "1500, 1000, 67"})
  void score_followsTheDocumentedFormula(double value, double target, int expected) {
    assertThat(HealthContributors.score(value, target)).isEqualTo(expected);
  }

  @ParameterizedTest(name = "score {0} is {1}")
  @CsvSource({"100, HEALTHY", "85, HEALTHY", "84, DEGRADED", "50, DEGRADED", "49, UNHEALTHY",
      "0, UNHEALTHY"})
  void status_thresholds(int score, HealthStatus status) {
    assertThat(HealthStatus.of(score)).isEqualTo(status);
  }

  @Test
  void emptyMonitor_isHealthy() {
    HealthReport r = HealthMonitor.builder().build().report();
    assertThat(r.score()).isEqualTo(100);
    assertThat(r.status()).isEqualTo(HealthStatus.HEALTHY);
    assertThat(r.recommendations()).isEmpty();
  }

  @Test
  void queue_48of50_isStillHealthy_butRecommendsMoreCapacity() {
    HealthContributor queue = HealthContributors.queue("chat", () -> 48, () -> 50, () -> 20,
        () -> 20, () -> 0);
    HealthReport r = HealthMonitor.builder().add(queue).build().report();
    assertThat(r.score()).isEqualTo(85);
    assertThat(r.status()).isEqualTo(HealthStatus.HEALTHY);
    assertThat(r.recommendations()).containsExactly(
        "queue depth 48 of 50 at 'chat': raise maxConcurrent (now 20) or add an instance");
    assertThat(r.component("queue:chat").orElseThrow().figures())
        .containsEntry("queued", 48L).containsEntry("active", 20L)
        .containsEntry("rejectedSinceLastReport", 0L);
  }

  @Test
  void queue_fullAndRejecting_isDegradedAt50_andRejectionsCountOncePerReport() {
    AtomicLong rejected = new AtomicLong(3);
    HealthMonitor monitor = HealthMonitor.builder().add(HealthContributors.queue(
        "chat", () -> 50, () -> 50, () -> 20, () -> 20, rejected::get)).build();
    rejected.addAndGet(7);
    HealthReport r = monitor.report();
    assertThat(r.score()).isEqualTo(50);
    assertThat(r.status()).isEqualTo(HealthStatus.DEGRADED);
    assertThat(r.recommendations()).containsExactly(
        "queue depth 50 of 50 at 'chat': raise maxConcurrent (now 20) or add an instance",
        "queue 'chat' rejected 7 requests since the last report: add capacity or shed load "
            + "earlier");
    HealthReport next = monitor.report();
    assertThat(next.score()).as("no new rejections: full queue only").isEqualTo(84);
  }

  @Test
  void errors_sevenPercent_isDegraded_andComponentsWithFewCallsDoNotCount() {
    ErrorTracker tracker = ErrorTracker.builder().clock(clock).build();
    for (int i = 0; i < 100; i++) {
      tracker.record("pubmed", i >= 7);
    }
    tracker.recordFailure("rarely-used");
    HealthReport r = HealthMonitor.builder().add(HealthContributors.errors(tracker)).build()
        .report();
    assertThat(r.score()).isEqualTo(70);
    assertThat(r.status()).isEqualTo(HealthStatus.DEGRADED);
    assertThat(r.recommendations()).containsExactly(
        "error rate of 'pubmed' is 7.0 % over the last 60 s (target < 5.0 %): check that "
            + "component's logs and the services it depends on");
    assertThat(r.components().get(0).figures())
        .containsEntry("pubmed.errorRatePercent", 7.0)
        .containsEntry("rarely-used.calls", 1L);
  }

  @Test
  void latencyProbe_scoresPingTimeAgainst1000ms() {
    LatencyProbe fast = LatencyProbe.of("db", () -> {
      clock.advance(Duration.ofMillis(40));
      return null;
    }, LatencyProbe.DEFAULT_THRESHOLD, clock);
    ComponentHealth ok = fast.check();
    assertThat(ok.score()).isEqualTo(99);
    assertThat(ok.figures()).containsEntry("latencyMs", 40.0);
    assertThat(ok.recommendations()).isEmpty();

    LatencyProbe slow = LatencyProbe.of("db", () -> {
      clock.advance(Duration.ofMillis(1500));
      return null;
    }, LatencyProbe.DEFAULT_THRESHOLD, clock);
    ComponentHealth degraded = slow.check();
    assertThat(degraded.score()).isEqualTo(67);
    assertThat(degraded.recommendations()).containsExactly(
        "'db' answered in 1500 ms (target < 1000 ms): check slow queries, the connection pool "
            + "size and the server's load");
  }

  @Test
  void latencyProbe_failingPing_makesReportUnhealthy() {
    LatencyProbe down = LatencyProbe.of("db", () -> {
      throw new java.io.IOException("connection refused");
    }, LatencyProbe.DEFAULT_THRESHOLD, clock);
    HealthReport r = HealthMonitor.builder().add(down).build().report();
    assertThat(r.score()).isZero();
    assertThat(r.status()).isEqualTo(HealthStatus.UNHEALTHY);
    assertThat(r.recommendations()).containsExactly(
        "'db' probe failed (IOException: connection refused): check that it is up and reachable");
  }

  @Test
  void openBreaker_isUnhealthy_butHalfWeightOnlyDegrades() {
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(clock)
        .failureThreshold(1).openDuration(Duration.ofSeconds(30)).build();
    breaker.recordFailure(Duration.ZERO);
    clock.advance(Duration.ofMillis(12_500));
    HealthReport full = HealthMonitor.builder()
        .add(HealthContributors.circuitBreaker(breaker)).build().report();
    assertThat(full.score()).isEqualTo(25);
    assertThat(full.status()).isEqualTo(HealthStatus.UNHEALTHY);
    assertThat(full.recommendations()).containsExactly(
        "circuit 'pubmed' is open: calls to it fail fast; the next probe is in 18 s. Check that "
            + "service; if it is back, reset the breaker");
    assertThat(full.components().get(0).figures()).containsEntry("breakerState", "OPEN")
        .containsEntry("untilProbeMs", 17_500L);

    HealthReport half = HealthMonitor.builder()
        .add(HealthContributors.circuitBreaker(breaker), 0.5).build().report();
    assertThat(half.score()).isEqualTo(62);
    assertThat(half.status()).isEqualTo(HealthStatus.DEGRADED);
  }

  @Test
  void outboundGuard_reportsPacingBacklogAndEmptyRetryBudget() {
    ManualScheduler scheduler = new ManualScheduler(clock);
    OutboundGuard pubmed = OutboundGuard.builder().name("pubmed").clock(clock)
        .scheduler(scheduler).pacing(3, Duration.ofSeconds(1))
        .maxPacingWait(Duration.ofSeconds(5)).build();
    for (int i = 0; i < 14; i++) {
      pubmed.callAsync(() -> CompletableFuture.completedFuture("x"));
    }
    HealthReport r = HealthMonitor.builder().add(HealthContributors.outboundGuard(pubmed)).build()
        .report();
    ComponentHealth c = r.component("outbound:pubmed").orElseThrow();
    assertThat(c.figures()).containsEntry("pacingBacklogMs", 4666L)
        .containsEntry("maxPacingWaitMs", 5000L);
    assertThat(c.score()).isEqualTo(86);
    assertThat(r.recommendations()).containsExactly(
        "callers wait 4.7 s of at most 5.0 s for a turn at 'pubmed': send it fewer calls (cache "
            + "results), or ask its operators for a higher rate");

    OutboundGuard failing = OutboundGuard.builder().name("failing").clock(clock)
        .scheduler(scheduler).retry(RetryPolicy.builder().maxAttempts(2).budget(0.1, 1)
            .jitter(0).build()).build();
    CompletableFuture<String> f = failing.callAsync(
        () -> CompletableFuture.failedFuture(new IllegalStateException("down")));
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(f).isCompletedExceptionally();
    ComponentHealth budget = HealthContributors.outboundGuard(failing).check();
    assertThat(budget.score()).isEqualTo(HealthContributors.HALF_OPEN_SCORE);
    assertThat(budget.figures()).containsEntry("retryBudgetTokens", 0.0);
  }

  @Test
  void rateLimiter_counterWrappingALimiter_scoresTheShareOfClientsRefused() {
    RateLimitCounter counter = RateLimitCounter.create("chat", Duration.ofMinutes(1), clock);
    RateLimiter<String> chat = counter.wrap(
        RateLimiter.builder().name("chat").limit(5, Duration.ofMinutes(1)).clock(clock).build());
    chat.tryAcquire("user-0");
    for (int i = 0; i < 15; i++) {
      chat.tryAcquirePermit("user-1");
    }
    // Two clients, one refused ten times: that is one client's problem, not the service's.
    HealthMonitor monitor = HealthMonitor.builder()
        .add(HealthContributors.rateLimiter(counter), 0.5).build();
    assertThat(monitor.report().score()).isEqualTo(100);
    for (int i = 2; i < 40; i++) {
      for (int j = 0; j < 6; j++) {
        chat.tryAcquire("user-" + i);
      }
    }
    HealthReport r = monitor.report();
    // 39 of 40 clients refused: far past the 10 % target (score 0), weight 0.5 gives 50.
    assertThat(r.components().get(0).score()).isZero();
    assertThat(r.score()).isEqualTo(50);
    assertThat(r.recommendations()).containsExactly(
        "39 of 40 clients (97.5 %) of 'chat' were rate-limited over the last 60 s (target "
            + "< 10.0 %): if the traffic is legitimate, raise the limit; if it is an attack from "
            + "many addresses, block it upstream");
  }

  @Test
  void report_takesTheWorstComponent_andOrdersRecommendationsWorstFirst() {
    HealthContributor fine = () -> new ComponentHealth("fine", 100, Map.of(), List.of());
    HealthContributor queue = HealthContributors.queue("chat", () -> 45, () -> 50, () -> 20,
        () -> 20, () -> 0);
    HealthContributor db = LatencyProbe.of("db", () -> {
      clock.advance(Duration.ofMillis(1200));
      return null;
    }, LatencyProbe.DEFAULT_THRESHOLD, clock);
    HealthReport r = HealthMonitor.builder().add(fine).add(queue).add(db).build().report();
    assertThat(r.components()).extracting(ComponentHealth::name)
        .containsExactly("fine", "queue:chat", "db");
    assertThat(r.score()).isEqualTo(77);
    assertThat(r.status()).isEqualTo(HealthStatus.DEGRADED);
    assertThat(r.recommendations()).hasSize(2);
    assertThat(r.recommendations().get(0)).startsWith("'db' answered in 1200 ms");
    assertThat(r.recommendations().get(1)).startsWith("queue depth 45 of 50");
  }

  @Test
  void failingContributor_scoresZeroInsteadOfBreakingTheReport() {
    HealthContributor broken = () -> {
      throw new IllegalStateException("bug");
    };
    HealthReport r = HealthMonitor.builder().add(broken).build().report();
    assertThat(r.score()).isZero();
    assertThat(r.components().get(0).figures())
        .containsEntry("error", "IllegalStateException: bug");
  }
}
