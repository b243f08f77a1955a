package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RateLimiterTest {
  private final ManualClock clock = new ManualClock();

  private RateLimiter<String> limiter(int calls, Duration period) {
    return RateLimiter.builder().name("test").limit(calls, period).clock(clock).build();
  }

  @ParameterizedTest(name = "{0} per minute")
  @CsvSource({"5, chat", "10, research", "3, export"})
  void tryAcquire_originalLimits_refusesNPlusOneWithExactRetryAfter(int n, String route) {
    RateLimiter<String> limiter =
        RateLimiter.builder().name(route).limit(n, Duration.ofMinutes(1)).clock(clock).build();
    long interval = Duration.ofMinutes(1).toNanos() / n;

    for (int i = 1; i <= n; i++) {
      RateLimitDecision d = limiter.tryAcquire("10.0.0.1");
      assertThat(d.allowed()).as("call %d", i).isTrue();
      assertThat(d.remaining()).isEqualTo(n - i);
      assertThat(d.retryAfterNanos()).isZero();
      assertThat(d.resetAfterNanos()).isEqualTo(i * interval);
      assertThat(d.limit()).isEqualTo(n);
      assertThat(d.policy()).isEqualTo(route);
      assertThat(d.window()).isEqualTo(Duration.ofMinutes(1));
    }
    RateLimitDecision refused = limiter.tryAcquire("10.0.0.1");
    assertThat(refused.allowed()).isFalse();
    assertThat(refused.remaining()).isZero();
    assertThat(refused.retryAfterNanos()).isEqualTo(interval);
    assertThat(refused.resetAfter()).isEqualTo(Duration.ofMinutes(1));
    assertThat(refused.retryAfterSeconds()).isEqualTo(60 / n);

    // One nanosecond early is still refused, by exactly one nanosecond.
    clock.advanceNanos(interval - 1);
    assertThat(limiter.tryAcquire("10.0.0.1").retryAfterNanos()).isEqualTo(1);
    clock.advanceNanos(1);
    RateLimitDecision recovered = limiter.tryAcquire("10.0.0.1");
    assertThat(recovered.allowed()).isTrue();
    assertThat(recovered.remaining()).isZero();
    assertThat(limiter.tryAcquire("10.0.0.1").allowed()).isFalse();

    // Other keys are independent.
    assertThat(limiter.tryAcquire("10.0.0.2").remaining()).isEqualTo(n - 1);
  }

  @Test
  void tryAcquire_afterFullPeriod_allowsFullBurstAgain() {
    RateLimiter<String> limiter = limiter(5, Duration.ofMinutes(1));
    for (int i = 0; i < 5; i++) {
      assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    }
    clock.advance(Duration.ofMinutes(1));
    RateLimitDecision d = limiter.tryAcquire("k");
    assertThat(d.remaining()).isEqualTo(4);
    assertThat(d.resetAfter()).isEqualTo(Duration.ofSeconds(12));
  }

  @Test
  void tryAcquire_withSmallerBurst_spacesCallsAfterTheBurst() {
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(5, Duration.ofMinutes(1)).burst(2).clock(clock).build();
    assertThat(limiter.tryAcquire("k").remaining()).isEqualTo(1);
    assertThat(limiter.tryAcquire("k").remaining()).isZero();
    RateLimitDecision refused = limiter.tryAcquire("k");
    assertThat(refused.allowed()).isFalse();
    assertThat(refused.retryAfter()).isEqualTo(Duration.ofSeconds(12));
    assertThat(refused.resetAfter()).isEqualTo(Duration.ofSeconds(24));
    clock.advance(Duration.ofSeconds(12));
    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
  }

  @Test
  void tryAcquire_withLargerBurst_allowsBurstThenSteadyRate() {
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(1, Duration.ofSeconds(1)).burst(10).clock(clock).build();
    for (int i = 0; i < 10; i++) {
      assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    }
    assertThat(limiter.tryAcquire("k").retryAfter()).isEqualTo(Duration.ofSeconds(1));
    assertThat(limiter.tryAcquire("k").resetAfter()).isEqualTo(Duration.ofSeconds(10));
  }

  @Test
  void tryAcquire_withCost_chargesCostCallsAndReportsRetryForThatCost() {
    RateLimiter<String> limiter = limiter(5, Duration.ofMinutes(1));
    RateLimitDecision first = limiter.tryAcquire("k", 3);
    assertThat(first.allowed()).isTrue();
    assertThat(first.remaining()).isEqualTo(2);
    assertThat(first.resetAfter()).isEqualTo(Duration.ofSeconds(36));

    RateLimitDecision second = limiter.tryAcquire("k", 3);
    assertThat(second.allowed()).isFalse();
    assertThat(second.remaining()).isEqualTo(2);
    assertThat(second.retryAfter()).isEqualTo(Duration.ofSeconds(12));

    // A cheaper call still fits.
    assertThat(limiter.tryAcquire("k", 2).allowed()).isTrue();
    assertThat(limiter.tryAcquire("k", 1).retryAfter()).isEqualTo(Duration.ofSeconds(12));
  }

  @Test
  void tryAcquire_resetAfter_countsDownWithTime() {
    RateLimiter<String> limiter = limiter(5, Duration.ofMinutes(1));
    limiter.tryAcquire("k");
    limiter.tryAcquire("k");
    clock.advance(Duration.ofSeconds(10));
    RateLimitDecision d = limiter.tryAcquire("k");
    // 24 s owed, 10 s passed, 12 s added.
    assertThat(d.resetAfter()).isEqualTo(Duration.ofSeconds(26));
    assertThat(d.remaining()).isEqualTo(2);
    assertThat(d.resetAfterSeconds()).isEqualTo(26);
  }

  @Test
  void tryAcquire_whenClockStepsBackwards_neverGrantsExtra() {
    RateLimiter<String> limiter = limiter(5, Duration.ofMinutes(1));
    for (int i = 0; i < 5; i++) {
      limiter.tryAcquire("k");
    }
    clock.advance(Duration.ofMinutes(-10));
    RateLimitDecision d = limiter.tryAcquire("k");
    assertThat(d.allowed()).isFalse();
    assertThat(d.remaining()).isZero();
    assertThat(d.retryAfter()).isEqualTo(Duration.ofMinutes(10).plusSeconds(12));
    // Once the clock is back where it was, the key is exactly where it was.
    clock.advance(Duration.ofMinutes(10).plusSeconds(12));
    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
  }

  @Test
  void tryAcquirePermit_agreesWithDecisions() {
    RateLimiter<String> limiter = limiter(3, Duration.ofMinutes(1));
    assertThat(limiter.tryAcquirePermit("k")).isTrue();
    assertThat(limiter.tryAcquirePermit("k")).isTrue();
    assertThat(limiter.tryAcquire("k").remaining()).isZero();
    assertThat(limiter.tryAcquirePermit("k")).isFalse();
  }

  @Test
  void acquireOrThrow_whenRefused_throwsWithDecision() {
    RateLimiter<String> limiter = limiter(1, Duration.ofMinutes(1));
    assertThat(limiter.acquireOrThrow("k").allowed()).isTrue();
    assertThatThrownBy(() -> limiter.acquireOrThrow("k"))
        .isInstanceOf(RateLimitExceededException.class)
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining("'test'")
        .satisfies(e -> assertThat(((RateLimitExceededException) e).decision().retryAfter())
            .isEqualTo(Duration.ofMinutes(1)));
  }

  @Test
  void emissionInterval_isPeriodOverLimitRoundedUp() {
    RateLimiter<String> limiter = limiter(7, Duration.ofSeconds(1));
    assertThat(limiter.emissionInterval()).isEqualTo(Duration.ofNanos(142_857_143));
    assertThat(limiter.burst()).isEqualTo(7);
    assertThat(limiter.limit()).isEqualTo(7);
    assertThat(limiter.period()).isEqualTo(Duration.ofSeconds(1));
    assertThat(limiter.name()).isEqualTo("test");
  }

  @Test
  void builder_rejectsInvalidConfigurationNamingTheArgument() {
    assertThatThrownBy(() -> RateLimiter.builder().limit(0, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("limit calls")
        .hasMessageContaining("0");
    assertThatThrownBy(() -> RateLimiter.builder().limit(-3, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("limit calls");
    assertThatThrownBy(() -> RateLimiter.builder().limit(5, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("limit period");
    assertThatThrownBy(() -> RateLimiter.builder().limit(5, Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("limit period");
    assertThatThrownBy(() -> RateLimiter.builder().limit(5, null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("limit period");
    assertThatThrownBy(() -> RateLimiter.builder().limit(5, Duration.ofSeconds(Long.MAX_VALUE)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("limit period");
    assertThatThrownBy(() -> RateLimiter.builder().burst(0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("burst");
    assertThatThrownBy(() -> RateLimiter.builder().maxKeys(0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxKeys");
    assertThatThrownBy(() -> RateLimiter.builder().name(" "))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("name");
    assertThatThrownBy(() -> RateLimiter.builder().clock(null))
        .isInstanceOf(NullPointerException.class).hasMessageContaining("clock");
    assertThatThrownBy(() -> RateLimiter.builder().build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("limit(calls, period)");
    assertThatThrownBy(() -> RateLimiter.builder()
            .limit(1, Duration.ofDays(365 * 200)).burst(Integer.MAX_VALUE).build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("burst");
    assertThatThrownBy(() -> RateLimiter.builder().limit(1, Duration.ofSeconds(1)).build(null))
        .isInstanceOf(NullPointerException.class).hasMessageContaining("store");
  }

  @Test
  void tryAcquire_rejectsNullKeyAndBadCostNamingTheArgument() {
    RateLimiter<String> limiter = limiter(5, Duration.ofMinutes(1));
    assertThatThrownBy(() -> limiter.tryAcquire(null))
        .isInstanceOf(NullPointerException.class).hasMessage("key");
    assertThatThrownBy(() -> limiter.tryAcquirePermit(null))
        .isInstanceOf(NullPointerException.class).hasMessage("key");
    assertThatThrownBy(() -> limiter.tryAcquire("k", 6))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("cost must be in [1, burst=5] but was 6");
    assertThatThrownBy(() -> limiter.tryAcquire("k", 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cost");
    // Nothing was charged by the bad calls.
    assertThat(limiter.tryAcquire("k").remaining()).isEqualTo(4);
  }

  @Test
  void builder_isReusableAndBuildCopiesConfiguration() {
    RateLimiter.Builder builder = RateLimiter.builder().limit(2, Duration.ofSeconds(1)).clock(clock);
    RateLimiter<String> first = builder.build();
    builder.limit(9, Duration.ofSeconds(1));
    RateLimiter<String> second = builder.build();
    assertThat(first.limit()).isEqualTo(2);
    assertThat(second.limit()).isEqualTo(9);
    first.tryAcquire("k");
    assertThat(second.tryAcquire("k").remaining()).isEqualTo(8);
  }

  // A clock that moves on every read: a second read inside one decision (say, when a key's cell
  // is created) then decides against a later time than the first.

  @Test
  void tryAcquire_limitOnePerMinute_firstCallOfEveryFreshKeyIsAllowed_onATickingClock() {
    TickingClock ticking = new TickingClock(1);
    RateLimiter<String> limiter = RateLimiter.builder().name("test")
        .limit(1, Duration.ofMinutes(1)).clock(ticking).build();
    long interval = Duration.ofMinutes(1).toNanos();
    for (int i = 0; i < 10_000; i++) {
      long readsBefore = ticking.reads();
      RateLimitDecision first = limiter.tryAcquire("10.0.0." + i);
      assertThat(first.allowed()).as("key %d", i).isTrue();
      assertThat(first.remaining()).isZero();
      assertThat(first.resetAfterNanos()).isEqualTo(interval);
      // One read per decision: the next call is one tick later, so it owes exactly that less.
      RateLimitDecision second = limiter.tryAcquire("10.0.0." + i);
      assertThat(second.allowed()).isFalse();
      assertThat(second.retryAfterNanos()).isEqualTo(interval - 1);
      assertThat(ticking.reads() - readsBefore).isEqualTo(2);
    }
  }

  @Test
  void tryAcquirePermit_limitOnePerMinute_freshKeysAreAllowed_onATickingClock() {
    TickingClock ticking = new TickingClock(1_000);
    RateLimiter<Integer> limiter =
        RateLimiter.builder().limit(1, Duration.ofMinutes(1)).clock(ticking).build();
    long readsAtStart = ticking.reads();
    for (int key = 0; key < 10_000; key++) {
      assertThat(limiter.tryAcquirePermit(key)).as("key %d", key).isTrue();
      assertThat(limiter.tryAcquirePermit(key)).as("key %d again", key).isFalse();
    }
    assertThat(ticking.reads() - readsAtStart).isEqualTo(20_000);
  }

  @Test
  void tryAcquire_costEqualToBurst_onFreshKeys_isAllowed_onATickingClock() {
    TickingClock ticking = new TickingClock(1);
    RateLimiter<String> limiter =
        RateLimiter.builder().limit(5, Duration.ofMinutes(1)).clock(ticking).build();
    for (int i = 0; i < 10_000; i++) {
      RateLimitDecision d = limiter.tryAcquire("user-" + i, 5);
      assertThat(d.allowed()).as("key %d", i).isTrue();
      assertThat(d.remaining()).isZero();
      assertThat(d.resetAfter()).isEqualTo(Duration.ofMinutes(1));
    }
  }

  @Test
  void remaining_onFreshKeys_isBurstMinusCost_onATickingClock() {
    TickingClock ticking = new TickingClock(1);
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(5, Duration.ofMinutes(1)).burst(7).clock(ticking).build();
    for (int cost = 1; cost <= 7; cost++) {
      RateLimitDecision d = limiter.tryAcquire("fresh-" + cost, cost);
      assertThat(d.allowed()).isTrue();
      assertThat(d.remaining()).as("cost %d", cost).isEqualTo(7 - cost);
      assertThat(d.resetAfter()).isEqualTo(Duration.ofSeconds(12L * cost));
    }
  }

  @Test
  void keyBackAfterIdling_isFreshAgain_onATickingClock() {
    TickingClock ticking = new TickingClock(1);
    RateLimiter<String> limiter =
        RateLimiter.builder().limit(1, Duration.ofMinutes(1)).clock(ticking).build();
    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    // Idle past the refill: the key's entry may be dropped; either way it starts full.
    ticking.advance(Duration.ofMinutes(5));
    for (int i = 0; i < 1_000; i++) {
      limiter.tryAcquirePermit("other-" + i);
    }
    RateLimitDecision back = limiter.tryAcquire("k");
    assertThat(back.allowed()).isTrue();
    assertThat(back.remaining()).isZero();
    assertThat(back.resetAfter()).isEqualTo(Duration.ofMinutes(1));
  }
}
