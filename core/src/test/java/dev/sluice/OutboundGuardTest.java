package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class OutboundGuardTest {
  private final ManualClock clock = new ManualClock();
  private final ManualScheduler scheduler = new ManualScheduler(clock);
  private final AtomicInteger attempts = new AtomicInteger();

  /** Runs the same call through the synchronous or the asynchronous API. */
  enum Mode {
    SYNC {
      @Override
      <T> T run(OutboundGuard guard, ManualScheduler scheduler, Callable<T> work)
          throws Exception {
        return guard.call(work);
      }
    },
    ASYNC {
      @Override
      <T> T run(OutboundGuard guard, ManualScheduler scheduler, Callable<T> work)
          throws Exception {
        CompletableFuture<T> f = guard.callAsync(() -> {
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
    };

    abstract <T> T run(OutboundGuard guard, ManualScheduler scheduler, Callable<T> work)
        throws Exception;
  }

  private OutboundGuard.Builder guard() {
    return OutboundGuard.builder().name("pubmed").clock(clock).scheduler(scheduler);
  }

  private RetryPolicy.Builder retry() {
    return RetryPolicy.builder().backoff(Duration.ofMillis(100), Duration.ofSeconds(10))
        .jitter(0).noBudget();
  }

  private Callable<String> failingTimes(int failures) {
    return () -> {
      int n = attempts.incrementAndGet();
      if (n <= failures) {
        throw new IOException("attempt " + n);
      }
      return "ok after " + n;
    };
  }

  private static Duration ms(long millis) {
    return Duration.ofMillis(millis);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void retry_untilSuccess_withExponentialBackoffDelays(Mode mode) throws Exception {
    OutboundGuard g = guard().retry(retry().maxAttempts(4).build()).build();
    assertThat(mode.run(g, scheduler, failingTimes(3))).isEqualTo("ok after 4");
    assertThat(attempts).hasValue(4);
    assertThat(scheduler.waits()).containsExactly(ms(100), ms(200), ms(400));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void retry_whenAttemptsRunOut_returnsTheLastFailure(Mode mode) {
    OutboundGuard g = guard().retry(retry().maxAttempts(3).build()).build();
    assertThatThrownBy(() -> mode.run(g, scheduler, failingTimes(10)))
        .isInstanceOf(IOException.class).hasMessage("attempt 3");
    assertThat(scheduler.waits()).containsExactly(ms(100), ms(200));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void backoff_isCappedAtMaxDelay(Mode mode) {
    OutboundGuard g = guard().retry(retry().maxAttempts(5)
        .backoff(ms(100), ms(300), 2.0).build()).build();
    assertThatThrownBy(() -> mode.run(g, scheduler, failingTimes(10)))
        .isInstanceOf(IOException.class);
    assertThat(scheduler.waits()).containsExactly(ms(100), ms(200), ms(300), ms(300));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void jitter_keepsEveryDelayWithinBounds(Mode mode) throws Exception {
    OutboundGuard g = guard().retry(retry().maxAttempts(2).jitter(0.25).build()).build();
    for (int i = 0; i < 40; i++) {
      attempts.set(0);
      mode.run(g, scheduler, failingTimes(1));
    }
    List<Duration> waits = scheduler.waits();
    assertThat(waits).hasSize(40).allSatisfy(d ->
        assertThat(d).isGreaterThan(ms(75)).isLessThanOrEqualTo(ms(125)));
    assertThat(new HashSet<>(waits)).as("jittered, not constant").hasSizeGreaterThan(1);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void retryOn_retriesOnlyConfiguredFailures(Mode mode) {
    OutboundGuard g = guard().retry(retry().maxAttempts(3).retryOn(IOException.class).build())
        .build();
    assertThatThrownBy(() -> mode.run(g, scheduler, () -> {
      attempts.incrementAndGet();
      throw new IllegalStateException("bad request");
    })).isInstanceOf(IllegalStateException.class);
    assertThat(attempts).hasValue(1);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void retryOnResult_retriesUntilAcceptableResult(Mode mode) throws Exception {
    OutboundGuard g = guard().retry(retry().maxAttempts(5)
        .retryOnResult(r -> Integer.valueOf(503).equals(r)).build()).build();
    Integer status = mode.run(g, scheduler, () -> attempts.incrementAndGet() < 3 ? 503 : 200);
    assertThat(status).isEqualTo(200);
    assertThat(scheduler.waits()).containsExactly(ms(100), ms(200));
  }

  /** What an HTTP client might throw for a 429 or 503 with a Retry-After header. */
  static final class RetryLater extends IOException {
    private static final long serialVersionUID = 1L;
    final transient Duration after;

    RetryLater(Duration after) {
      super("retry after " + after);
      this.after = after;
    }
  }

  private RetryPolicy.Builder retryHonouringRetryAfter() {
    return retry().retryAfterOn(e -> e instanceof RetryLater r ? r.after : null);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void retryAfter_toldByServer_replacesBackoff(Mode mode) throws Exception {
    OutboundGuard g = guard().retry(retryHonouringRetryAfter().maxAttempts(3).build()).build();
    String result = mode.run(g, scheduler, () -> {
      int n = attempts.incrementAndGet();
      if (n == 1) {
        throw new RetryLater(Duration.ofSeconds(7));
      }
      if (n == 2) {
        throw new IOException("plain failure");
      }
      return "ok";
    });
    assertThat(result).isEqualTo("ok");
    // 7 s as told (not capped by backoff); then Failsafe's backoff for a second retry (2 x 100 ms).
    assertThat(scheduler.waits()).containsExactly(Duration.ofSeconds(7), ms(200));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void retryAfter_withJitter_neverWaitsLessThanTold(Mode mode) throws Exception {
    OutboundGuard g = guard().retry(retryHonouringRetryAfter().maxAttempts(2).jitter(0.5).build())
        .build();
    for (int i = 0; i < 20; i++) {
      attempts.set(0);
      mode.run(g, scheduler, () -> {
        if (attempts.incrementAndGet() == 1) {
          throw new RetryLater(Duration.ofSeconds(2));
        }
        return "ok";
      });
    }
    assertThat(scheduler.waits()).hasSize(20).allSatisfy(d ->
        assertThat(d).isBetween(Duration.ofSeconds(2), Duration.ofSeconds(6)));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void retryAfter_longerThanMax_returnsFailureAtOnce(Mode mode) {
    OutboundGuard g = guard().retry(retryHonouringRetryAfter().maxAttempts(3)
        .maxRetryAfter(Duration.ofSeconds(30)).build()).build();
    assertThatThrownBy(() -> mode.run(g, scheduler, () -> {
      attempts.incrementAndGet();
      throw new RetryLater(Duration.ofMinutes(5));
    })).isInstanceOf(RetryLater.class);
    assertThat(attempts).hasValue(1);
    assertThat(scheduler.waits()).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void retryBudget_underAlwaysFailingDownstream_capsRetries(Mode mode) {
    OutboundGuard g = guard().retry(retry().maxAttempts(3).budget(0.1, 10).build()).build();
    int calls = 100;
    for (int i = 0; i < calls; i++) {
      assertThatThrownBy(() -> mode.run(g, scheduler, () -> {
        attempts.incrementAndGet();
        throw new IOException("down");
      })).isInstanceOf(IOException.class);
    }
    // Calls 1-5 spend the 10 starting tokens (2 retries each); afterwards each call deposits 0.1,
    // so only every 10th call (11, 21, ..., 91) gets one retry. Without a budget: 300 attempts.
    assertThat(attempts).hasValue(100 + 10 + 9);
    assertThat(g.retriesDeniedByBudget()).isEqualTo(95);
    assertThat(attempts.get()).isLessThanOrEqualTo((int) (calls * 1.1) + 10);
    assertThat(g.retryBudgetTokens()).isEqualTo(0.9, org.assertj.core.api.Assertions.within(1e-9));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void pacing_threePerSecond_sequentialCallsWaitTheirTurn(Mode mode) throws Exception {
    OutboundGuard g = guard().pacing(3, Duration.ofSeconds(1)).build();
    long t0 = clock.nanoTime();
    List<Long> starts = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      mode.run(g, scheduler, () -> starts.add(clock.nanoTime() - t0));
    }
    assertExactlyThreePerSecond(starts);
  }

  @Test
  void pacing_threePerSecond_concurrentAsyncCallsAreSpacedEvenly() throws Exception {
    OutboundGuard g = guard().pacing(3, Duration.ofSeconds(1))
        .maxPacingWait(Duration.ofSeconds(10)).build();
    long t0 = clock.nanoTime();
    List<Long> starts = new ArrayList<>();
    List<CompletableFuture<Boolean>> futures = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      futures.add(g.callAsync(
          () -> CompletableFuture.completedFuture(starts.add(clock.nanoTime() - t0))));
    }
    assertThat(g.pacingBacklog()).isEqualTo(Duration.ofNanos(7 * 333_333_334L));
    scheduler.advance(Duration.ofSeconds(3));
    for (CompletableFuture<Boolean> f : futures) {
      assertThat(f.get(5, TimeUnit.SECONDS)).isTrue();
    }
    assertExactlyThreePerSecond(starts);
  }

  private static void assertExactlyThreePerSecond(List<Long> starts) {
    long interval = 333_333_334L; // 1 s / 3, rounded up so 3/s is never exceeded
    for (int i = 0; i < starts.size(); i++) {
      assertThat(starts.get(i)).as("start of call %d", i).isEqualTo(i * interval);
    }
    long second = Duration.ofSeconds(1).toNanos();
    for (long from = 0; from <= starts.get(starts.size() - 1); from += interval) {
      long windowStart = from;
      long inWindow = starts.stream().filter(s -> s >= windowStart && s < windowStart + second)
          .count();
      assertThat(inWindow).as("calls in [%d, +1 s)", windowStart).isLessThanOrEqualTo(3);
    }
    long firstSecond = starts.stream().filter(s -> s < second).count();
    assertThat(firstSecond).isEqualTo(3);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void pacing_turnBeyondMaxWait_isRejectedWithTheWait(Mode mode) throws Exception {
    OutboundGuard g = guard().pacing(3, Duration.ofSeconds(1))
        .maxPacingWait(Duration.ofSeconds(1)).build();
    // Three callers hold the next three turns (async, so they do not block this thread).
    for (int i = 0; i < 3; i++) {
      g.callAsync(() -> CompletableFuture.completedFuture("held"));
    }
    assertThatThrownBy(() -> mode.run(g, scheduler, () -> attempts.incrementAndGet()))
        .isInstanceOfSatisfying(PacingRejectedException.class, e -> {
          assertThat(e.service()).isEqualTo("pubmed");
          assertThat(e.waitTime()).isEqualTo(Duration.ofNanos(3 * 333_333_334L));
          assertThat(e.maxWait()).isEqualTo(Duration.ofSeconds(1));
        });
    assertThat(attempts).as("a rejected caller does not call the service").hasValue(0);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void breaker_opensAfterFailures_failsFast_thenProbeCloses(Mode mode) throws Exception {
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(clock)
        .failureThreshold(3).openDuration(Duration.ofSeconds(30)).build();
    OutboundGuard g = guard().circuitBreaker(breaker).build();
    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(() -> mode.run(g, scheduler, failingTimes(100)))
          .isInstanceOf(IOException.class);
    }
    assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
    clock.advance(Duration.ofSeconds(10));
    assertThatThrownBy(() -> mode.run(g, scheduler, failingTimes(100)))
        .isInstanceOfSatisfying(CircuitOpenException.class,
            e -> assertThat(e.untilProbe()).isEqualTo(Duration.ofSeconds(20)));
    assertThat(attempts).as("refused call never reaches the service").hasValue(3);
    clock.advance(Duration.ofSeconds(20));
    assertThat(mode.run(g, scheduler, () -> "probe ok")).isEqualTo("probe ok");
    assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.CLOSED);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void breaker_countsEachRetryAttempt_andOpenBreakerStopsRetries(Mode mode) {
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(clock)
        .failureThreshold(2).build();
    OutboundGuard g = guard().circuitBreaker(breaker).retry(retry().maxAttempts(5).build()).build();
    assertThatThrownBy(() -> mode.run(g, scheduler, failingTimes(100)))
        .isInstanceOf(CircuitOpenException.class);
    assertThat(attempts).hasValue(2);
    assertThat(scheduler.waits()).containsExactly(ms(100), ms(200));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void openBreaker_withPacing_failsBeforeTakingATurn(Mode mode) {
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(clock)
        .failureThreshold(1).build();
    OutboundGuard g = guard().circuitBreaker(breaker).pacing(3, Duration.ofSeconds(1)).build();
    assertThatThrownBy(() -> mode.run(g, scheduler, failingTimes(100)))
        .isInstanceOf(IOException.class);
    Duration backlog = g.pacingBacklog();
    assertThatThrownBy(() -> mode.run(g, scheduler, failingTimes(100)))
        .isInstanceOf(CircuitOpenException.class);
    assertThat(g.pacingBacklog()).isEqualTo(backlog);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void timeout_slowAttempt_failsWithAttemptTimeout_isRetried_andCountsAsBreakerFailure(Mode mode) {
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(clock)
        .failureThreshold(5).build();
    OutboundGuard g = guard().timeout(Duration.ofSeconds(2)).circuitBreaker(breaker)
        .retry(retry().maxAttempts(2).fixedDelay(Duration.ofSeconds(1)).build()).build();
    assertThatThrownBy(() -> mode.run(g, scheduler, () -> {
      attempts.incrementAndGet();
      scheduler.advance(Duration.ofMillis(2500)); // the work takes 2.5 s of virtual time
      return "late";
    })).isInstanceOfSatisfying(AttemptTimeoutException.class,
        e -> assertThat(e.timeout()).isEqualTo(Duration.ofSeconds(2)));
    assertThat(attempts).hasValue(2);
    assertThat(scheduler.waits()).containsExactly(
        Duration.ofSeconds(2), Duration.ofSeconds(1), Duration.ofSeconds(2));
    assertThat(breaker.consecutiveFailures()).isEqualTo(2);
  }

  @Test
  void timeout_async_attemptTimesOut_isRetried_andCountsAsBreakerFailure() throws Exception {
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(clock)
        .failureThreshold(5).build();
    OutboundGuard g = guard().timeout(Duration.ofSeconds(2)).circuitBreaker(breaker)
        .retry(retry().maxAttempts(2).fixedDelay(Duration.ofSeconds(1)).build()).build();
    List<CompletableFuture<String>> hanging = new ArrayList<>();
    CompletableFuture<String> f = g.callAsync(() -> {
      CompletableFuture<String> never = new CompletableFuture<>();
      hanging.add(never);
      return never;
    });
    assertThatThrownBy(() -> scheduler.await(f))
        .isInstanceOf(ExecutionException.class)
        .cause().isInstanceOfSatisfying(AttemptTimeoutException.class, e -> {
          assertThat(e.service()).isEqualTo("pubmed");
          assertThat(e.timeout()).isEqualTo(Duration.ofSeconds(2));
        });
    assertThat(hanging).hasSize(2);
    assertThat(scheduler.waits()).containsExactly(
        Duration.ofSeconds(2), Duration.ofSeconds(1), Duration.ofSeconds(2));
    assertThat(breaker.consecutiveFailures()).isEqualTo(2);
  }

  @Test
  void timeout_async_fastAttempt_cancelsItsTimer() throws Exception {
    OutboundGuard g = guard().timeout(Duration.ofSeconds(2)).build();
    CompletableFuture<String> f = g.callAsync(() -> CompletableFuture.completedFuture("fast"));
    assertThat(scheduler.await(f)).isEqualTo("fast");
    assertThat(scheduler.pending()).isZero();
  }

  @Test
  void callAsync_cancel_stopsPendingRetries() {
    OutboundGuard g = guard().retry(retry().maxAttempts(3).build()).build();
    CompletableFuture<String> f = g.callAsync(() -> {
      attempts.incrementAndGet();
      return CompletableFuture.failedFuture(new IOException("down"));
    });
    scheduler.runDue();
    assertThat(attempts).hasValue(1);
    f.cancel(true);
    scheduler.advance(Duration.ofSeconds(10));
    assertThat(attempts).hasValue(1);
  }

  @Test
  void get_unchecked_returnsResult() {
    OutboundGuard g = guard().build();
    assertThat(g.get(() -> "plain")).isEqualTo("plain");
    assertThat(g.circuitBreaker()).isEmpty();
    assertThat(g.retryPolicy().maxAttempts()).isEqualTo(1);
    assertThat(g.retryBudgetTokens()).isInfinite();
  }

  @Test
  void builder_rejectsBadArgumentsAndCombinations() {
    assertThatThrownBy(() -> OutboundGuard.builder().pacing(0, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("pacing calls");
    assertThatThrownBy(() -> OutboundGuard.builder().timeout(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("timeout");
    assertThatThrownBy(() -> OutboundGuard.builder().maxPacingWait(Duration.ofSeconds(1)).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("pacing");
    assertThatThrownBy(() -> RetryPolicy.builder().jitter(1.0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("jitter");
    assertThatThrownBy(() -> RetryPolicy.builder().maxAttempts(0))
        .hasMessageContaining("maxAttempts");
    assertThatThrownBy(() -> RetryPolicy.builder().budget(2, 10))
        .hasMessageContaining("budget ratio");
    assertThatThrownBy(() -> RetryPolicy.builder()
        .backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("maxDelay");
    Set<String> unused = Set.of();
    assertThat(unused).isEmpty();
  }

  @Test
  void sync_runsAttemptsAndWaitsOnTheCallersThread() throws Exception {
    OutboundGuard g = guard().pacing(10, Duration.ofSeconds(1))
        .retry(retry().maxAttempts(3).build()).timeout(Duration.ofSeconds(2))
        .interruptOnTimeout(true).build();
    Thread caller = Thread.currentThread();
    List<Thread> ran = new ArrayList<>();
    String result = g.call(() -> {
      ran.add(Thread.currentThread());
      if (ran.size() < 3) {
        throw new IOException("down");
      }
      return "ok";
    });
    assertThat(result).isEqualTo("ok");
    assertThat(ran).containsExactly(caller, caller, caller);
    // Each attempt's timer and the backoff delays; the 100 ms pacing turns fall within them.
    assertThat(scheduler.waits()).containsExactly(Duration.ofSeconds(2), ms(100),
        Duration.ofSeconds(2), ms(200), Duration.ofSeconds(2));
    assertThat(scheduler.pending()).as("every attempt's timer was cancelled").isZero();
  }

  @Test
  void sync_interruptingTimeout_interruptsTheCaller_retries_andClearsTheInterrupt() {
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(clock)
        .failureThreshold(5).build();
    OutboundGuard g = guard().timeout(Duration.ofSeconds(2)).interruptOnTimeout(true)
        .circuitBreaker(breaker)
        .retry(retry().maxAttempts(2).fixedDelay(Duration.ofSeconds(1)).build()).build();
    List<Boolean> interrupted = new ArrayList<>();
    assertThatThrownBy(() -> g.call(() -> {
      attempts.incrementAndGet();
      scheduler.advance(Duration.ofMillis(2500)); // the work takes 2.5 s of virtual time
      interrupted.add(Thread.currentThread().isInterrupted());
      return "late";
    })).isInstanceOfSatisfying(AttemptTimeoutException.class,
        e -> assertThat(e.timeout()).isEqualTo(Duration.ofSeconds(2)));
    assertThat(interrupted).as("each late attempt saw the interrupt").containsExactly(true, true);
    assertThat(Thread.currentThread().isInterrupted()).as("interrupt cleared").isFalse();
    assertThat(attempts).hasValue(2);
    assertThat(scheduler.waits()).containsExactly(
        Duration.ofSeconds(2), Duration.ofSeconds(1), Duration.ofSeconds(2));
    assertThat(breaker.consecutiveFailures()).isEqualTo(2);
  }

  @Test
  void sync_pacingTurn_isWaitedOnTheSchedulersTime() throws Exception {
    OutboundGuard g = guard().pacing(2, Duration.ofSeconds(1)).build();
    long t0 = clock.nanoTime();
    List<Long> starts = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      g.call(() -> starts.add(clock.nanoTime() - t0));
    }
    assertThat(starts).containsExactly(0L, 500_000_000L, 1_000_000_000L);
    assertThat(scheduler.waits()).containsExactly(ms(500), ms(500));
  }

  @Test
  void sync_onRealTime_watchdogInterruptsAWorkThatBlocks() throws Exception {
    OutboundGuard g = OutboundGuard.builder().name("pubmed")
        .timeout(Duration.ofMillis(50)).interruptOnTimeout(true).build();
    java.util.concurrent.CountDownLatch never = new java.util.concurrent.CountDownLatch(1);
    assertThatThrownBy(() -> g.call(() -> never.await(5, TimeUnit.SECONDS)))
        .isInstanceOfSatisfying(AttemptTimeoutException.class,
            e -> assertThat(e.getCause()).isInstanceOf(InterruptedException.class));
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
    assertThat(g.call(() -> "fast")).isEqualTo("fast");
  }
}
