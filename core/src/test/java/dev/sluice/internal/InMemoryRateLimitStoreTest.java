package dev.sluice.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimiter;
import dev.sluice.TickingClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class InMemoryRateLimitStoreTest {
  private static final int MAX_KEYS = 10_000;
  private static final int KEYS = 1_000_000;

  private final AtomicLong now = new AtomicLong(5_000_000_000L);

  private GcraRateLimiter<Integer> limiter(int calls) {
    RateLimiter<Integer> limiter = RateLimiter.builder()
        .limit(calls, Duration.ofMinutes(1)).maxKeys(MAX_KEYS).clock(now::get).build();
    return (GcraRateLimiter<Integer>) limiter;
  }

  private static long size(GcraRateLimiter<Integer> limiter) {
    return ((InMemoryRateLimitStore<Integer>) limiter.store()).size();
  }

  @Test
  void millionKeys_storeNeverHoldsMoreThanMaxKeys_andEvictedKeysAreNotOverAdmitted() {
    GcraRateLimiter<Integer> limiter = limiter(5);
    for (int key = 0; key < KEYS; key++) {
      assertThat(limiter.tryAcquire(key).allowed()).isTrue();
      if (key % 50_000 == 0) {
        assertThat(size(limiter)).isLessThanOrEqualTo(MAX_KEYS);
      }
    }
    assertThat(size(limiter)).isLessThanOrEqualTo(MAX_KEYS);

    // Every key has used one of its five calls in this minute. A re-seen key resumes from its
    // ghost (four left) or, if its ghost was displaced, starts from a full bucket: never more.
    int resumed = 0;
    for (int key = KEYS - 1; key >= KEYS - 20_000; key--) {
      int admitted = 0;
      for (int i = 0; i < 6; i++) {
        if (limiter.tryAcquire(key).allowed()) {
          admitted++;
        }
      }
      assertThat(admitted).as("key %d", key).isBetween(4, 5);
      resumed += admitted == 4 ? 1 : 0;
    }
    // Re-seeing keys evicts others as it goes, so not all 20,000 can resume; the cache and the
    // ghost table still remember thousands of them.
    assertThat(resumed).isGreaterThan(MAX_KEYS / 2);
    assertThat(size(limiter)).isLessThanOrEqualTo(MAX_KEYS);
  }

  @Test
  void evictedDrainedKey_isStillRefusedUntilItRecovers() {
    GcraRateLimiter<Integer> limiter = limiter(3);
    for (int i = 0; i < 3; i++) {
      limiter.tryAcquire(-1);
    }
    // Push key -1 out with many other keys.
    for (int key = 0; key < 5 * MAX_KEYS; key++) {
      limiter.tryAcquire(key);
    }
    RateLimitDecision d = limiter.tryAcquire(-1);
    assertThat(d.allowed()).isFalse();
    assertThat(d.retryAfter()).isEqualTo(Duration.ofSeconds(20));
    now.addAndGet(Duration.ofSeconds(20).toNanos());
    assertThat(limiter.tryAcquire(-1).allowed()).isTrue();
  }

  @Test
  void idleKeys_expireOnceTheirBucketIsFull() {
    GcraRateLimiter<Integer> limiter = limiter(5);
    for (int key = 0; key < 100; key++) {
      limiter.tryAcquire(key);
    }
    assertThat(size(limiter)).isEqualTo(100);
    now.addAndGet(Duration.ofMinutes(1).toNanos());
    assertThat(size(limiter)).isZero();
    assertThat(limiter.tryAcquire(7).remaining()).isEqualTo(4);
  }

  @Test
  void floodOfFreshKeys_allAllowed_andAnEvictedKeyComesBackFresh_onATickingClock() {
    TickingClock ticking = new TickingClock(1);
    GcraRateLimiter<Integer> limiter = (GcraRateLimiter<Integer>) RateLimiter.builder()
        .limit(1, Duration.ofMinutes(1)).maxKeys(MAX_KEYS).clock(ticking).<Integer>build();
    assertThat(limiter.tryAcquire(-1).allowed()).isTrue();
    for (int key = 0; key < 5 * MAX_KEYS; key++) {
      assertThat(limiter.tryAcquirePermit(key)).as("fresh key %d", key).isTrue();
    }
    assertThat(size(limiter)).isLessThanOrEqualTo(MAX_KEYS);
    ticking.advance(Duration.ofMinutes(1));
    for (int key = 5 * MAX_KEYS; key < 10 * MAX_KEYS; key++) {
      assertThat(limiter.tryAcquirePermit(key)).as("fresh key %d", key).isTrue();
    }
    RateLimitDecision back = limiter.tryAcquire(-1);
    assertThat(back.allowed()).isTrue();
    assertThat(back.remaining()).isZero();
    assertThat(back.resetAfter()).isEqualTo(Duration.ofMinutes(1));
  }

  @Test
  void storeOutcome_ofAFreshKey_isDecidedOnTheOneClockRead() {
    TickingClock ticking = new TickingClock(1);
    InMemoryRateLimitStore<String> store = new InMemoryRateLimitStore<>(ticking, 100, 1_000);
    for (int i = 0; i < 500; i++) {
      long now = ticking.peek();
      long reads = ticking.reads();
      RateLimitStore.Outcome outcome = store.acquire("k" + i, 1_000, 1_000);
      assertThat(outcome).isEqualTo(new RateLimitStore.Outcome(true, now + 1_000, now));
      assertThat(ticking.reads() - reads).isEqualTo(1);
    }
  }
}
