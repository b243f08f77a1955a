package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RateLimiterConcurrencyTest {
  private static final int THREADS = 64;

  @Test
  void tryAcquire_threadsOnBarrierAgainstOneKey_admitExactlyBurst() throws Exception {
    ManualClock clock = new ManualClock();
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(20, Duration.ofMinutes(1)).clock(clock).build();
    AtomicInteger admitted = new AtomicInteger();
    AtomicInteger permits = new AtomicInteger();
    CyclicBarrier barrier = new CyclicBarrier(THREADS);
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int thread = t;
        futures.add(pool.submit(() -> {
          barrier.await(10, TimeUnit.SECONDS);
          for (int i = 0; i < 200; i++) {
            if (thread % 2 == 0) {
              if (limiter.tryAcquire("hot").allowed()) {
                admitted.incrementAndGet();
              }
            } else if (limiter.tryAcquirePermit("hot")) {
              permits.incrementAndGet();
            }
          }
          return null;
        }));
      }
      for (Future<?> f : futures) {
        f.get(30, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(admitted.get() + permits.get()).isEqualTo(20);
  }

  @Test
  void tryAcquire_manyKeysSharingFrontSlots_admitExactlyBurstPerKey() throws Exception {
    ManualClock clock = new ManualClock();
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(3, Duration.ofMinutes(1)).maxKeys(20_000).clock(clock).build();
    int keys = 10_000; // more keys than front-table slots: slots are overwritten constantly
    java.util.concurrent.atomic.AtomicIntegerArray admitted =
        new java.util.concurrent.atomic.AtomicIntegerArray(keys);
    CyclicBarrier barrier = new CyclicBarrier(8);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int seed = t;
        futures.add(pool.submit(() -> {
          java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
          barrier.await(10, TimeUnit.SECONDS);
          for (int i = 0; i < 50_000; i++) {
            int k = random.nextInt(keys);
            boolean ok = (i & 1) == 0 ? limiter.tryAcquirePermit("key-" + k)
                : limiter.tryAcquire("key-" + k).allowed();
            if (ok) {
              admitted.incrementAndGet(k);
            }
          }
          return null;
        }));
      }
      for (Future<?> f : futures) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
    for (int k = 0; k < keys; k++) {
      assertThat(admitted.get(k)).as("key %d", k).isEqualTo(3);
    }
  }

  @Test
  void tryAcquire_threadsAsTimeAdvances_neverExceedTheRate() throws Exception {
    ManualClock clock = new ManualClock();
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(10, Duration.ofSeconds(1)).clock(clock).build();
    AtomicInteger admitted = new AtomicInteger();
    CyclicBarrier barrier = new CyclicBarrier(THREADS, () -> clock.advance(Duration.ofMillis(100)));
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    int rounds = 50;
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        futures.add(pool.submit(() -> {
          for (int r = 0; r < rounds; r++) {
            barrier.await(10, TimeUnit.SECONDS);
            if (limiter.tryAcquire("hot").allowed()) {
              admitted.incrementAndGet();
            }
          }
          return null;
        }));
      }
      for (Future<?> f : futures) {
        f.get(30, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
    // Each round advances 100 ms (one emission interval) before its calls:
    // the full burst of 10 in the first round, then exactly one per round.
    assertThat(admitted.get()).isEqualTo(10 + (rounds - 1));
  }
}
