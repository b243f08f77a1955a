package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Test;

/**
 * {@link RateLimiter#reconfigure}: keys keep their state (an absolute TAT), decisions use the new
 * interval at once, a smaller tolerance at once and a larger one growing in with time. Random
 * sequences of decisions and changes are checked against a reference model written here, on the
 * in-memory store and on a store written from the {@link RateLimitStore} contract alone, together
 * with the two promises: what a key gets after a change conforms to the new policy, and a change
 * never gives a key more calls than its unspent time buys at the new rate.
 */
class RateLimiterReconfigureTest {

  /** The contract's pseudo-code, literally, under one lock. */
  private static final class MapStore implements RateLimitStore<String> {
    private final Map<String, Long> tats = new HashMap<>();
    private final NanoClock clock;

    MapStore(NanoClock clock) {
      this.clock = clock;
    }

    @Override
    public synchronized Outcome acquire(String key, long increment, long tolerance) {
      long now = clock.nanoTime();
      long tat = Math.max(tats.getOrDefault(key, now), now);
      long newTat = tat + increment;
      if (newTat - now <= tolerance) {
        tats.put(key, newTat);
        return new Outcome(true, newTat, now);
      }
      return new Outcome(false, tat, now);
    }
  }

  /** The carry-over rule, written from the javadoc of {@link RateLimiter#reconfigure}. */
  private static final class Model {
    long t;
    long tau;
    int burst;
    int limit;
    /** 0, or the tolerance a larger one grows from, since {@link #growStart}. */
    long growFrom;
    long growStart;
    final Map<String, Long> tat = new HashMap<>();

    Model(int limit, long periodNanos, int burst) {
      set(limit, periodNanos, burst);
    }

    private void set(int limit, long periodNanos, int burst) {
      this.limit = limit;
      this.burst = burst;
      this.t = (periodNanos + limit - 1) / limit;
      this.tau = t * burst;
    }

    long tolerance(long now) {
      if (growFrom == 0) {
        return tau;
      }
      return Math.min(tau, growFrom + Math.max(0, now - growStart));
    }

    void reconfigure(int limit, long periodNanos, int burst, long now) {
      long current = tolerance(now);
      set(limit, periodNanos, burst);
      if (tau > current) {
        growFrom = current;
        growStart = now;
      } else {
        growFrom = 0;
      }
    }

    long owed(String key, long now) {
      return Math.max(0, tat.getOrDefault(key, now) - now);
    }

    /** Returns {allowed, remaining, retryAfter, resetAfter}. */
    long[] arrive(String key, long now, int cost) {
      long tol = tolerance(now);
      long current = Math.max(tat.getOrDefault(key, now), now);
      long next = current + cost * t;
      boolean allowed = next - now <= tol;
      long after = allowed ? next : current;
      if (allowed) {
        tat.put(key, after);
      }
      long owed = after - now;
      long remaining = Math.max(0, tol - owed) / t;
      long retryAfter = allowed ? 0 : Math.max(1, next - tol - now);
      return new long[] {allowed ? 1 : 0, remaining, retryAfter, owed};
    }
  }

  /** A GCRA of the new policy that starts with a full bucket at the change. */
  private static final class Fresh {
    final long t;
    final long tau;
    final long start;
    final Map<String, Long> tat = new HashMap<>();

    Fresh(long t, long tau, long start) {
      this.t = t;
      this.tau = tau;
      this.start = start;
    }

    boolean admits(String key, long now, int cost) {
      long current = Math.max(tat.getOrDefault(key, start), now);
      if (current + cost * t - now > tau) {
        return false;
      }
      tat.put(key, current + cost * t);
      return true;
    }
  }

  @Test
  void settings_reportTheBuiltPolicy_andReconfigureReturnsTheOldOne() {
    ManualClock clock = new ManualClock();
    RateLimiter<String> limiter = RateLimiter.builder().name("chat")
        .limit(5, Duration.ofMinutes(1)).clock(clock).build();
    assertThat(limiter.settings())
        .isEqualTo(new RateLimiter.Settings(5, Duration.ofMinutes(1), 5));

    RateLimiter.Settings old =
        limiter.reconfigure(new RateLimiter.Settings(10, Duration.ofMinutes(1), 4));

    assertThat(old).isEqualTo(new RateLimiter.Settings(5, Duration.ofMinutes(1), 5));
    assertThat(limiter.settings())
        .isEqualTo(new RateLimiter.Settings(10, Duration.ofMinutes(1), 4));
    assertThat(limiter.limit()).isEqualTo(10);
    assertThat(limiter.burst()).isEqualTo(4);
    assertThat(limiter.emissionInterval()).isEqualTo(Duration.ofSeconds(6));
    RateLimitDecision d = limiter.tryAcquire("new-key");
    assertThat(d.limit()).isEqualTo(10);
    assertThat(d.remaining()).isEqualTo(3);
    assertThatThrownBy(() -> limiter.tryAcquire("k", 5))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("burst=4");
  }

  @Test
  void settings_nameTheBadField() {
    assertThatThrownBy(() -> new RateLimiter.Settings(0, Duration.ofMinutes(1), 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("limit ");
    assertThatThrownBy(() -> new RateLimiter.Settings(1, Duration.ZERO, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("period ");
    assertThatThrownBy(() -> new RateLimiter.Settings(1, null, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("period ");
    assertThatThrownBy(() -> new RateLimiter.Settings(1, Duration.ofSeconds(1), 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("burst ");
    RateLimiter<String> limiter = RateLimiter.builder().limit(1, Duration.ofSeconds(1)).build();
    assertThatThrownBy(() -> limiter.reconfigure(
        new RateLimiter.Settings(1, Duration.ofDays(365 * 100), Integer.MAX_VALUE)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("burst ");
    assertThat(limiter.settings()).isEqualTo(new RateLimiter.Settings(1, Duration.ofSeconds(1), 1));
  }

  @Test
  void emptyKey_staysEmpty_whenTheBurstIsRaised_andTheExtraRoomGrowsInWithTime() {
    ManualClock clock = new ManualClock();
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(5, Duration.ofMinutes(1)).clock(clock).build();
    for (int i = 0; i < 5; i++) {
      assertThat(limiter.tryAcquirePermit("k")).isTrue();
    }
    assertThat(limiter.tryAcquirePermit("k")).isFalse();

    limiter.reconfigure(new RateLimiter.Settings(5, Duration.ofMinutes(1), 10));

    // Still empty at the instant of the change: no step up.
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
    assertThat(limiter.tryAcquirePermit("k")).isFalse();
    // The tolerance in force is still the old one, for every key: a new key gets the old burst.
    assertThat(limiter.tryAcquire("new", 5).allowed()).isTrue();
    assertThat(limiter.tryAcquirePermit("new")).isFalse();
    // 12 s later the key has refilled one call (12 s) and the tolerance has grown by 12 s: two.
    clock.advance(Duration.ofSeconds(12));
    assertThat(limiter.tryAcquire("k").remaining()).isEqualTo(1);
    assertThat(limiter.tryAcquirePermit("k")).isTrue();
    assertThat(limiter.tryAcquirePermit("k")).isFalse();
    // Once grown (60 s after the change) a rested key has the full new burst.
    clock.advance(Duration.ofMinutes(5));
    assertThat(limiter.tryAcquire("k", 10).allowed()).isTrue();
    assertThat(limiter.tryAcquirePermit("k")).isFalse();
  }

  @Test
  void fullKey_afterTheBurstIsLowered_hasTheNewBurstOnly() {
    ManualClock clock = new ManualClock();
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(10, Duration.ofMinutes(1)).clock(clock).build();
    assertThat(limiter.tryAcquirePermit("k")).isTrue(); // known to the store, 9 left

    limiter.reconfigure(new RateLimiter.Settings(2, Duration.ofMinutes(1), 2));

    // It owes 6 s of the new 60 s tolerance: one call (30 s each) fits, the second does not.
    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    RateLimitDecision refused = limiter.tryAcquire("k");
    assertThat(refused.allowed()).isFalse();
    assertThat(refused.retryAfter()).isEqualTo(Duration.ofSeconds(6));
    assertThat(refused.limit()).isEqualTo(2);
  }

  @Test
  void keyThatSpentItsBurst_whenTheRateIsRaised_refillsAtTheNewRate() {
    ManualClock clock = new ManualClock();
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(5, Duration.ofMinutes(1)).clock(clock).build();
    for (int i = 0; i < 5; i++) {
      assertThat(limiter.tryAcquirePermit("k")).isTrue();
    }
    limiter.reconfigure(new RateLimiter.Settings(60, Duration.ofMinutes(1), 5));
    // Owes 60 s, tolerance now 5 s: it waits until it owes 4 s, 56 s; no step up before that.
    clock.advance(Duration.ofSeconds(55));
    assertThat(limiter.tryAcquirePermit("k")).isFalse();
    clock.advance(Duration.ofSeconds(1));
    assertThat(limiter.tryAcquirePermit("k")).isTrue();
    assertThat(limiter.tryAcquirePermit("k")).isFalse();
    clock.advance(Duration.ofSeconds(1));
    assertThat(limiter.tryAcquirePermit("k")).isTrue();
  }

  @RepeatedTest(8)
  void randomDecisionsAndChanges_inMemory_matchTheModel_andKeepThePromises(RepetitionInfo info) {
    run(info.getCurrentRepetition(), false);
  }

  @RepeatedTest(8)
  void randomDecisionsAndChanges_onAContractStore_matchTheModel_andKeepThePromises(
      RepetitionInfo info) {
    run(info.getCurrentRepetition(), true);
  }

  private static void run(int seed, boolean contractStore) {
    SplittableRandom random = new SplittableRandom(0xC0FF + seed * 31L + (contractStore ? 7 : 0));
    ManualClock clock = new ManualClock();
    int limit = 1 + random.nextInt(20);
    long period = Duration.ofMillis(1 + random.nextInt(60_000)).toNanos();
    int burst = 1 + random.nextInt(12);
    RateLimiter.Builder builder = RateLimiter.builder().name("r")
        .limit(limit, Duration.ofNanos(period)).burst(burst).clock(clock);
    RateLimiter<String> limiter =
        contractStore ? builder.build(new MapStore(clock)) : builder.build();
    Model model = new Model(limit, period, burst);
    Fresh fresh = new Fresh(model.t, model.tau, clock.nanoTime());
    int changes = 0;
    int allowed = 0;
    int refused = 0;

    for (int step = 0; step < 10_000; step++) {
      long now = clock.nanoTime();
      if (random.nextInt(150) == 0) {
        long tolBefore = model.tolerance(now);
        long tBefore = model.t;
        Map<String, Long> unspent = new HashMap<>();
        for (int k = 0; k < 4; k++) {
          unspent.put("k" + k, tolBefore - model.owed("k" + k, now));
        }
        int newLimit = 1 + random.nextInt(20);
        long newPeriod = Duration.ofMillis(1 + random.nextInt(60_000)).toNanos();
        int newBurst = 1 + random.nextInt(12);
        RateLimiter.Settings old = limiter.reconfigure(
            new RateLimiter.Settings(newLimit, Duration.ofNanos(newPeriod), newBurst));
        assertThat(old.limit()).isEqualTo(model.limit);
        model.reconfigure(newLimit, newPeriod, newBurst, now);
        fresh = new Fresh(model.t, model.tau, now);
        changes++;
        // No step up: right after the change a key has at most min(burst', unspent / T'); a
        // key with nothing unspent (it owes the whole tolerance) has none.
        for (int k = 0; k < 4; k++) {
          String key = "k" + k;
          long left = Math.max(0, model.tolerance(now) - model.owed(key, now)) / model.t;
          long bound = Math.min(newBurst, Math.max(0, unspent.get(key)) / model.t);
          assertThat(left).as("calls left for %s after change %d (T %d -> %d)", key, changes,
              tBefore, model.t).isLessThanOrEqualTo(bound);
          if (unspent.get(key) <= 0) {
            assertThat(limiter.tryAcquire(key).allowed()).as("%s was empty", key).isFalse();
          }
        }
      }
      switch (random.nextInt(3)) {
        case 0 -> clock.advanceNanos(random.nextLong(3 * model.t + 1));
        case 1 -> clock.advanceNanos(random.nextLong(model.t / 4 + 1));
        default -> { }
      }
      now = clock.nanoTime();
      String key = "k" + random.nextInt(4);
      int cost = 1 + random.nextInt(model.burst);
      long[] expected = model.arrive(key, now, cost);
      RateLimitDecision d = limiter.tryAcquire(key, cost);
      assertThat(new long[] {d.allowed() ? 1 : 0, d.remaining(), d.retryAfterNanos(),
              d.resetAfterNanos(), d.limit()})
          .as("step %d key %s cost %d after %d changes", step, key, cost, changes)
          .containsExactly(expected[0], expected[1], expected[2], expected[3], model.limit);
      if (d.allowed()) {
        allowed++;
        // Conformance: a client starting with a full bucket at the change would be allowed too.
        assertThat(fresh.admits(key, now, cost))
            .as("step %d: conforms to the policy since change %d", step, changes).isTrue();
      } else {
        refused++;
      }
    }
    assertThat(changes).isPositive();
    assertThat(allowed).isPositive();
    assertThat(refused).isPositive();
  }
}
