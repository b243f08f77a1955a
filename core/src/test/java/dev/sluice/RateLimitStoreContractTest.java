package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** A store written only from the {@link RateLimitStore} contract agrees with the default store. */
class RateLimitStoreContractTest {

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

  @Test
  void customStore_givesTheSameDecisionsAsTheInMemoryStore() {
    ManualClock clock = new ManualClock();
    RateLimiter.Builder builder = RateLimiter.builder()
        .name("chat").limit(5, Duration.ofMinutes(1)).burst(7).clock(clock);
    RateLimiter<String> memory = builder.build();
    RateLimiter<String> custom = builder.build(new MapStore(clock));
    SplittableRandom random = new SplittableRandom(42);
    for (int i = 0; i < 10_000; i++) {
      clock.advanceNanos(random.nextLong(Duration.ofSeconds(15).toNanos()));
      String key = "user-" + random.nextInt(4);
      int cost = 1 + random.nextInt(3);
      assertThat(custom.tryAcquire(key, cost)).isEqualTo(memory.tryAcquire(key, cost));
    }
  }

  /**
   * On clocks that move on every read, the two stores see the same sequence of times only if each
   * reads its clock once per decision; fresh keys and whole-burst costs are frequent, as that is
   * where a second read (to create a key's state) changes the decision.
   */
  @Test
  void customStore_givesTheSameDecisionsAsTheInMemoryStore_onTickingClocks() {
    TickingClock memoryClock = new TickingClock(1);
    TickingClock customClock = new TickingClock(1);
    RateLimiter.Builder builder =
        RateLimiter.builder().name("chat").limit(5, Duration.ofMinutes(1)).burst(7);
    RateLimiter<String> memory = builder.clock(memoryClock).build();
    memoryClock.advanceNanos(customClock.peek() - memoryClock.peek()); // building read it once
    long memoryReadsAtStart = memoryClock.reads();
    RateLimiter<String> custom = builder.build(new MapStore(customClock));
    SplittableRandom random = new SplittableRandom(7);
    int allowed = 0;
    for (int i = 0; i < 10_000; i++) {
      long dt = random.nextInt(3) == 0 ? random.nextLong(Duration.ofSeconds(3).toNanos()) : 0;
      memoryClock.advanceNanos(dt);
      customClock.advanceNanos(dt);
      String key = "user-" + random.nextInt(300);
      int cost = random.nextBoolean() ? 7 : 1 + random.nextInt(7);
      RateLimitDecision expected = custom.tryAcquire(key, cost);
      assertThat(memory.tryAcquire(key, cost)).as("call %d key %s cost %d", i, key, cost)
          .isEqualTo(expected);
      allowed += expected.allowed() ? 1 : 0;
    }
    assertThat(memoryClock.reads() - memoryReadsAtStart).isEqualTo(customClock.reads())
        .isEqualTo(10_000);
    assertThat(allowed).isBetween(1_000, 9_000);
  }
}
