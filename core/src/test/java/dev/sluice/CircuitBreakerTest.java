package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.CircuitBreaker.State;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class CircuitBreakerTest {
  private final ManualClock clock = new ManualClock();
  private final List<String> transitions = new ArrayList<>();

  private CircuitBreaker.Builder builder() {
    return CircuitBreaker.builder().name("pubmed").clock(clock)
        .openDuration(Duration.ofSeconds(30))
        .onStateChange((name, from, to) -> transitions.add(name + ":" + from + "->" + to));
  }

  private static void fail(CircuitBreaker breaker) {
    assertThat(breaker.tryAcquirePermission()).isTrue();
    breaker.recordFailure(Duration.ofMillis(10));
  }

  private static void succeed(CircuitBreaker breaker) {
    assertThat(breaker.tryAcquirePermission()).isTrue();
    breaker.recordSuccess(Duration.ofMillis(10));
  }

  @Test
  void fiveConsecutiveFailures_open_thenHalfOpenAfterOpenDuration_thenProbeSuccessCloses() {
    CircuitBreaker breaker = builder().failureThreshold(5).build();
    for (int i = 0; i < 4; i++) {
      fail(breaker);
    }
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
    assertThat(breaker.consecutiveFailures()).isEqualTo(4);
    fail(breaker);
    assertThat(breaker.state()).isEqualTo(State.OPEN);

    assertThat(breaker.tryAcquirePermission()).isFalse();
    clock.advance(Duration.ofSeconds(10));
    assertThatThrownBy(breaker::acquirePermission)
        .isInstanceOfSatisfying(CircuitOpenException.class, e -> {
          assertThat(e.breaker()).isEqualTo("pubmed");
          assertThat(e.state()).isEqualTo(State.OPEN);
          assertThat(e.untilProbe()).isEqualTo(Duration.ofSeconds(20));
        });
    assertThat(breaker.untilProbe()).isEqualTo(Duration.ofSeconds(20));

    clock.advance(Duration.ofSeconds(20).minusNanos(1));
    assertThat(breaker.state()).isEqualTo(State.OPEN);
    clock.advanceNanos(1);
    assertThat(breaker.state()).isEqualTo(State.HALF_OPEN);

    // One probe at a time; others are refused without waiting.
    assertThat(breaker.tryAcquirePermission()).isTrue();
    assertThatThrownBy(breaker::acquirePermission)
        .isInstanceOfSatisfying(CircuitOpenException.class, e -> {
          assertThat(e.state()).isEqualTo(State.HALF_OPEN);
          assertThat(e.untilProbe()).isZero();
        });
    breaker.recordSuccess(Duration.ofMillis(5));
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
    assertThat(transitions).containsExactly(
        "pubmed:CLOSED->OPEN", "pubmed:OPEN->HALF_OPEN", "pubmed:HALF_OPEN->CLOSED");
  }

  @Test
  void halfOpen_probeFailure_opensAgainForAFullOpenDuration() {
    CircuitBreaker breaker = builder().failureThreshold(1).build();
    fail(breaker);
    clock.advance(Duration.ofSeconds(30));
    fail(breaker);
    assertThat(breaker.state()).isEqualTo(State.OPEN);
    assertThat(breaker.untilProbe()).isEqualTo(Duration.ofSeconds(30));
    assertThat(transitions).containsExactly(
        "pubmed:CLOSED->OPEN", "pubmed:OPEN->HALF_OPEN", "pubmed:HALF_OPEN->OPEN");
  }

  @Test
  void halfOpen_withThreeProbes_closesOnlyAfterAllThreeSucceed() {
    CircuitBreaker breaker = builder().failureThreshold(1).halfOpenProbes(3).build();
    fail(breaker);
    clock.advance(Duration.ofSeconds(30));
    assertThat(breaker.tryAcquirePermission()).isTrue();
    assertThat(breaker.tryAcquirePermission()).isTrue();
    assertThat(breaker.tryAcquirePermission()).isTrue();
    assertThat(breaker.tryAcquirePermission()).isFalse();
    breaker.recordSuccess(Duration.ZERO);
    breaker.recordSuccess(Duration.ZERO);
    assertThat(breaker.state()).isEqualTo(State.HALF_OPEN);
    breaker.recordSuccess(Duration.ZERO);
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
  }

  @Test
  void halfOpen_probeThatNeverReports_freesItsSlotAfterAnotherOpenDuration() {
    CircuitBreaker breaker = builder().failureThreshold(1).build();
    fail(breaker);
    clock.advance(Duration.ofSeconds(30));
    assertThat(breaker.tryAcquirePermission()).as("lost probe").isTrue();
    clock.advance(Duration.ofSeconds(29));
    assertThat(breaker.tryAcquirePermission()).isFalse();
    clock.advance(Duration.ofSeconds(1));
    assertThat(breaker.tryAcquirePermission()).as("new probe").isTrue();
    breaker.recordSuccess(Duration.ZERO);
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
  }

  @Test
  void success_resetsConsecutiveFailureCount() {
    CircuitBreaker breaker = builder().failureThreshold(3).build();
    fail(breaker);
    fail(breaker);
    succeed(breaker);
    fail(breaker);
    fail(breaker);
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
    fail(breaker);
    assertThat(breaker.state()).isEqualTo(State.OPEN);
  }

  @Test
  void failureRate_overWindow_opensOnceMinimumCallsReached() {
    CircuitBreaker breaker = builder().failureThreshold(100)
        .failureRateThreshold(0.5, 10, Duration.ofSeconds(10)).build();
    for (int i = 0; i < 4; i++) {
      succeed(breaker);
      fail(breaker);
    }
    assertThat(breaker.state()).as("8 calls < minimum 10").isEqualTo(State.CLOSED);
    assertThat(breaker.failureRate()).isEqualTo(0.5);
    succeed(breaker);
    fail(breaker);
    assertThat(breaker.state()).isEqualTo(State.OPEN);
  }

  @Test
  void failureRate_oldCallsLeaveTheWindow() {
    CircuitBreaker breaker = builder().failureThreshold(100)
        .failureRateThreshold(0.5, 4, Duration.ofSeconds(10)).build();
    fail(breaker);
    fail(breaker);
    fail(breaker);
    clock.advance(Duration.ofSeconds(11));
    assertThat(breaker.failureRate()).isZero();
    succeed(breaker);
    succeed(breaker);
    succeed(breaker);
    fail(breaker);
    assertThat(breaker.state()).as("1 failure in 4 recent calls").isEqualTo(State.CLOSED);
  }

  @Test
  void slowSuccess_countsAsFailure() {
    CircuitBreaker breaker = builder().failureThreshold(2)
        .slowCallThreshold(Duration.ofSeconds(2)).build();
    breaker.recordSuccess(Duration.ofMillis(1999));
    assertThat(breaker.consecutiveFailures()).isZero();
    breaker.recordSuccess(Duration.ofSeconds(2));
    breaker.recordSuccess(Duration.ofSeconds(3));
    assertThat(breaker.state()).isEqualTo(State.OPEN);
  }

  @Test
  void reset_closesAndForgets() {
    CircuitBreaker breaker = builder().failureThreshold(1).build();
    fail(breaker);
    breaker.reset();
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
    assertThat(breaker.failureRate()).isZero();
    assertThat(transitions).containsExactly("pubmed:CLOSED->OPEN", "pubmed:OPEN->CLOSED");
  }

  @Test
  void call_recordsOutcomes_andIgnoresExceptionsNotRecordedAsFailures() throws Exception {
    CircuitBreaker breaker = builder().failureThreshold(2)
        .recordFailureIf(e -> e instanceof IOException).build();
    assertThat(breaker.call(() -> "ok")).isEqualTo("ok");
    assertThatThrownBy(() -> breaker.call(() -> {
      throw new IllegalArgumentException("404");
    })).isInstanceOf(IllegalArgumentException.class);
    assertThat(breaker.consecutiveFailures()).isZero();
    for (int i = 0; i < 2; i++) {
      assertThatThrownBy(() -> breaker.call(() -> {
        throw new IOException("down");
      })).isInstanceOf(IOException.class);
    }
    int[] runs = {0};
    assertThatThrownBy(() -> breaker.call(() -> runs[0]++))
        .isInstanceOf(CircuitOpenException.class);
    assertThat(runs[0]).as("refused work is not run").isZero();
  }

  @Test
  void callAsync_sameTransitionsAsSync() throws Exception {
    CircuitBreaker breaker = builder().failureThreshold(2).build();
    for (int i = 0; i < 2; i++) {
      CompletableFuture<String> f =
          breaker.callAsync(() -> CompletableFuture.failedFuture(new IOException("down")));
      assertThatThrownBy(() -> f.get(5, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(IOException.class);
    }
    assertThat(breaker.state()).isEqualTo(State.OPEN);
    CompletableFuture<String> refused = breaker.callAsync(() -> CompletableFuture.completedFuture("x"));
    assertThatThrownBy(() -> refused.get(5, TimeUnit.SECONDS))
        .hasCauseInstanceOf(CircuitOpenException.class);
    clock.advance(Duration.ofSeconds(30));
    CompletableFuture<String> probe = new CompletableFuture<>();
    CompletableFuture<String> result = breaker.callAsync(() -> probe);
    assertThat(breaker.state()).isEqualTo(State.HALF_OPEN);
    probe.complete("back");
    assertThat(result.get(5, TimeUnit.SECONDS)).isEqualTo("back");
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
    assertThat(transitions).containsExactly(
        "pubmed:CLOSED->OPEN", "pubmed:OPEN->HALF_OPEN", "pubmed:HALF_OPEN->CLOSED");
  }

  @Test
  void listenerFailure_doesNotBreakTheBreaker() {
    CircuitBreaker breaker = builder().failureThreshold(1).build();
    breaker.onStateChange((n, f, t) -> {
      throw new IllegalStateException("listener bug");
    });
    fail(breaker);
    assertThat(breaker.state()).isEqualTo(State.OPEN);
  }

  @Test
  void builder_rejectsBadArgumentsNamingThem() {
    assertThatThrownBy(() -> CircuitBreaker.builder().failureThreshold(0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("failureThreshold");
    assertThatThrownBy(() -> CircuitBreaker.builder().openDuration(Duration.ZERO))
        .hasMessageContaining("openDuration");
    assertThatThrownBy(() -> CircuitBreaker.builder().failureRateThreshold(1.5, 1, Duration.ofSeconds(1)))
        .hasMessageContaining("rate");
    assertThatThrownBy(() -> CircuitBreaker.builder().halfOpenProbes(0))
        .hasMessageContaining("halfOpenProbes");
    assertThatThrownBy(() -> CircuitBreaker.builder().name(" "))
        .hasMessageContaining("name");
  }

  // On a clock that moves on every read, the open state must run from the failure that opened
  // it, and half-open from the decision that half-opened it, not from a later read.

  @Test
  void openDuration_runsFromTheFailureThatOpened_onATickingClock() {
    TickingClock ticking = new TickingClock(1);
    long open = Duration.ofSeconds(30).toNanos();
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(ticking)
        .failureThreshold(1).openDuration(Duration.ofSeconds(30)).build();
    long failedAt = ticking.peek();
    breaker.recordFailure(Duration.ofMillis(10));
    ticking.advanceNanos(failedAt + Duration.ofSeconds(10).toNanos() - ticking.peek());
    assertThat(breaker.untilProbe()).isEqualTo(Duration.ofSeconds(20));
    ticking.advanceNanos(failedAt + open - 1 - ticking.peek());
    assertThat(breaker.state()).isEqualTo(State.OPEN);
    assertThat(ticking.peek()).isEqualTo(failedAt + open);
    assertThat(breaker.state()).isEqualTo(State.HALF_OPEN);
  }

  @Test
  void openDuration_runsFromTheFailedCall_whenCallThrows_onATickingClock() throws Exception {
    TickingClock ticking = new TickingClock(1);
    long open = Duration.ofSeconds(30).toNanos();
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(ticking)
        .failureThreshold(1).openDuration(Duration.ofSeconds(30)).build();
    long[] endedAt = new long[1];
    assertThatThrownBy(() -> breaker.call(() -> {
      ticking.advance(Duration.ofMillis(5));
      endedAt[0] = ticking.peek(); // the breaker's next read is the end of the call
      throw new IOException("down");
    })).isInstanceOf(IOException.class);
    ticking.advanceNanos(endedAt[0] + open - 1 - ticking.peek());
    assertThat(breaker.tryAcquirePermission()).isFalse();
    assertThat(ticking.peek()).isEqualTo(endedAt[0] + open);
    assertThat(breaker.tryAcquirePermission()).isTrue();
    assertThat(breaker.state()).isEqualTo(State.HALF_OPEN);
  }

  @Test
  void lostProbe_slotComesBackOneOpenDurationAfterHalfOpening_onATickingClock() {
    TickingClock ticking = new TickingClock(1);
    long open = Duration.ofSeconds(30).toNanos();
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(ticking)
        .failureThreshold(1).openDuration(Duration.ofSeconds(30)).build();
    long failedAt = ticking.peek();
    breaker.recordFailure(Duration.ofMillis(10));
    ticking.advanceNanos(failedAt + open - ticking.peek());
    long halfOpenedAt = ticking.peek();
    assertThat(breaker.tryAcquirePermission()).isTrue(); // half-opens and takes the probe slot
    // The probe never reports. Its slot is given back exactly one open duration later.
    ticking.advanceNanos(halfOpenedAt + open - 1 - ticking.peek());
    assertThat(breaker.tryAcquirePermission()).isFalse();
    assertThat(ticking.peek()).isEqualTo(halfOpenedAt + open);
    assertThat(breaker.tryAcquirePermission()).isTrue();
  }

  @Test
  void closedSuccess_readsTheClockOnlyWhenAThresholdNeedsIt() throws Exception {
    TickingClock plain = new TickingClock(1);
    CircuitBreaker untimed = CircuitBreaker.builder().clock(plain).build();
    long before = plain.reads();
    for (int i = 0; i < 3; i++) {
      untimed.call(() -> "ok");
      untimed.recordSuccess(Duration.ofMillis(5));
    }
    assertThat(plain.reads() - before).as("no threshold, no window trigger").isZero();

    TickingClock rate = new TickingClock(1);
    CircuitBreaker byRate = CircuitBreaker.builder().clock(rate)
        .failureRateThreshold(0.5, 10, Duration.ofSeconds(10)).build();
    before = rate.reads();
    byRate.call(() -> "ok");
    assertThat(rate.reads() - before).as("rate trigger: the success's time").isEqualTo(1);

    TickingClock slow = new TickingClock(1);
    CircuitBreaker bySlow = CircuitBreaker.builder().clock(slow)
        .slowCallThreshold(Duration.ofSeconds(1)).build();
    before = slow.reads();
    bySlow.call(() -> "ok");
    assertThat(slow.reads() - before).as("slow-call threshold: start and end").isEqualTo(2);
  }

  @Test
  void failureRate_withoutRateTrigger_countsSuccessesRecordedWithoutTheClock() {
    CircuitBreaker breaker = builder().failureThreshold(100).build();
    succeed(breaker);
    succeed(breaker);
    succeed(breaker);
    fail(breaker);
    assertThat(breaker.failureRate()).isEqualTo(0.25);
    succeed(breaker);
    succeed(breaker);
    succeed(breaker);
    succeed(breaker);
    assertThat(breaker.failureRate()).isEqualTo(0.125);
    clock.advance(Duration.ofMinutes(2));
    assertThat(breaker.failureRate()).as("all calls left the one-minute window").isZero();
  }

  @Test
  void successAfterFailures_resetsTheCountWithoutOpening_andOpensOnlyOnConsecutiveFailures() {
    CircuitBreaker breaker = builder().failureThreshold(2).build();
    fail(breaker);
    assertThat(breaker.consecutiveFailures()).isEqualTo(1);
    succeed(breaker);
    assertThat(breaker.consecutiveFailures()).isZero();
    fail(breaker);
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
    fail(breaker);
    assertThat(breaker.state()).isEqualTo(State.OPEN);
  }

  @Test
  void concurrentSuccesses_areCountedExactly_withAndWithoutRateTrigger() throws Exception {
    for (boolean byRate : new boolean[] {false, true}) {
      CircuitBreaker.Builder b = builder().failureThreshold(1_000_000);
      if (byRate) {
        b.failureRateThreshold(1, 1_000_000, Duration.ofSeconds(10));
      }
      CircuitBreaker breaker = b.build();
      int threads = 4;
      int each = 20_000;
      java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads);
      java.util.concurrent.ExecutorService pool =
          java.util.concurrent.Executors.newFixedThreadPool(threads);
      try {
        List<java.util.concurrent.Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          done.add(pool.submit(() -> {
            start.await(5, TimeUnit.SECONDS);
            for (int i = 0; i < each; i++) {
              breaker.call(() -> "ok");
            }
            return null;
          }));
        }
        for (java.util.concurrent.Future<?> f : done) {
          f.get(30, TimeUnit.SECONDS);
        }
      } finally {
        pool.shutdownNow();
      }
      fail(breaker);
      assertThat(breaker.failureRate()).as("rate trigger %s", byRate)
          .isEqualTo(1.0 / (threads * each + 1));
    }
  }
}
