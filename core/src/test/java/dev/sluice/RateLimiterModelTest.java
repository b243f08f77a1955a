package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;

/**
 * Random sequences of (advance time, acquire key, cost) checked against a reference GCRA written
 * here in the ITU "virtual scheduling" form, independently of the production code.
 */
class RateLimiterModelTest {

  /** The reference: per key, the theoretical arrival time of the next conforming cell. */
  private static final class ReferenceGcra {
    final long t;
    final long tau;
    final Map<String, Long> tat = new HashMap<>();

    ReferenceGcra(int calls, long periodNanos, int burst) {
      this.t = (periodNanos + calls - 1) / calls;
      this.tau = (burst - 1) * t;
    }

    /** Returns {allowed, remaining, retryAfter, resetAfter}. */
    long[] arrive(String key, long now, int cost) {
      long current = tat.getOrDefault(key, now);
      if (current < now) {
        current = now;
      }
      // The cell of cost c conforms if its last unit's arrival is not earlier than TAT - tau.
      long lastUnitTat = current + (cost - 1) * t;
      boolean conforms = now >= lastUnitTat - tau;
      long after = conforms ? current + cost * t : current;
      if (conforms) {
        tat.put(key, after);
      }
      long owed = after - now;
      long remaining = Math.max(0, (tau + t - owed) / t);
      long retryAfter = conforms ? 0 : lastUnitTat - tau - now;
      return new long[] {conforms ? 1 : 0, remaining, retryAfter, owed};
    }
  }

  @RepeatedTest(20)
  void randomSequences_matchReferenceGcra(RepetitionInfo info) {
    SplittableRandom random = new SplittableRandom(0x5EED + info.getCurrentRepetition());
    int calls = 1 + random.nextInt(20);
    long periodNanos = Duration.ofMillis(1 + random.nextInt(120_000)).toNanos()
        + random.nextInt(1000);
    int burst = 1 + random.nextInt(25);
    ManualClock clock = new ManualClock();
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(calls, Duration.ofNanos(periodNanos)).burst(burst).clock(clock).build();
    ReferenceGcra reference = new ReferenceGcra(calls, periodNanos, burst);
    long now = clock.nanoTime();
    long interval = reference.t;

    for (int step = 0; step < 20_000; step++) {
      switch (random.nextInt(4)) {
        case 0 -> {
          long dt = random.nextLong(3 * interval);
          clock.advanceNanos(dt);
          now += dt;
        }
        case 1 -> {
          long dt = random.nextLong(interval / 10 + 1);
          clock.advanceNanos(dt);
          now += dt;
        }
        default -> { }
      }
      String key = "k" + random.nextInt(5);
      int cost = 1 + random.nextInt(burst);
      long[] expected = reference.arrive(key, now, cost);
      RateLimitDecision actual = limiter.tryAcquire(key, cost);
      assertThat(new long[] {actual.allowed() ? 1 : 0, actual.remaining(),
              actual.retryAfterNanos(), actual.resetAfterNanos()})
          .as("step %d key %s cost %d (calls %d, period %d ns, burst %d)",
              step, key, cost, calls, periodNanos, burst)
          .containsExactly(expected);
    }
  }

  /**
   * The same check on a clock that moves on every read, as a real one does, with many keys so
   * that fresh keys and keys back after idling are common. The reference decides at the time of
   * the limiter's one clock read; a second read inside a decision would shift the key's state by
   * a tick and show up in remaining, reset-after or the decision itself.
   */
  @RepeatedTest(20)
  void randomSequences_onATickingClock_matchReferenceGcra(RepetitionInfo info) {
    SplittableRandom random = new SplittableRandom(0x71C4 + info.getCurrentRepetition());
    int calls = 1 + random.nextInt(20);
    long periodNanos = Duration.ofMillis(1 + random.nextInt(120_000)).toNanos()
        + random.nextInt(1000);
    int burst = 1 + random.nextInt(25);
    TickingClock clock = new TickingClock(1 + random.nextInt(1_000));
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(calls, Duration.ofNanos(periodNanos)).burst(burst).clock(clock).build();
    ReferenceGcra reference = new ReferenceGcra(calls, periodNanos, burst);
    long interval = reference.t;
    int keys = 1 + random.nextInt(200);
    long readsAtStart = clock.reads(); // building the limiter may read it

    for (int step = 0; step < 20_000; step++) {
      if (random.nextInt(4) == 0) {
        clock.advanceNanos(random.nextLong(3 * interval * burst));
      }
      String key = "k" + random.nextInt(keys);
      int cost = random.nextInt(3) == 0 ? burst : 1 + random.nextInt(burst);
      long now = clock.peek();
      long[] expected = reference.arrive(key, now, cost);
      long[] actual;
      if (random.nextInt(4) == 0 && cost == 1) {
        actual = new long[] {limiter.tryAcquirePermit(key) ? 1 : 0};
        expected = new long[] {expected[0]};
      } else {
        RateLimitDecision d = limiter.tryAcquire(key, cost);
        actual = new long[] {d.allowed() ? 1 : 0, d.remaining(), d.retryAfterNanos(),
            d.resetAfterNanos()};
      }
      assertThat(actual)
          .as("step %d key %s cost %d (calls %d, period %d ns, burst %d)",
              step, key, cost, calls, periodNanos, burst)
          .containsExactly(expected);
      assertThat(clock.reads() - readsAtStart).as("clock reads after step %d", step)
          .isEqualTo(step + 1L);
    }
  }
}
