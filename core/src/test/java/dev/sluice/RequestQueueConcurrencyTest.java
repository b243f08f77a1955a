package dev.sluice;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.QueueRejectedException.Reason;
import dev.sluice.RequestQueue.Permit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class RequestQueueConcurrencyTest {
  private static final int THREADS = 64;
  private static final String[] PRIORITIES = {"chat", "research", "export"};

  /** Raises {@code max} to {@code value} if it is higher. */
  private static void raise(AtomicInteger max, int value) {
    max.accumulateAndGet(value, Math::max);
  }

  @Test
  void acquire_64ThreadsHammering_neverExceedGlobalOrPerKeyCap() throws Exception {
    int keys = 6;
    int rounds = 150;
    RequestQueue<Integer> queue = RequestQueue.builder()
        .maxConcurrent(8).maxConcurrentPerKey(2).maxQueued(THREADS)
        .priorities(PRIORITIES)
        .timeout(Duration.ofHours(1))
        .build();
    AtomicInteger inFlight = new AtomicInteger();
    AtomicIntegerArray inFlightByKey = new AtomicIntegerArray(keys);
    AtomicInteger highWater = new AtomicInteger();
    AtomicInteger highWaterPerKey = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    CyclicBarrier barrier = new CyclicBarrier(THREADS);
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int thread = t;
        futures.add(pool.submit(() -> {
          barrier.await(10, SECONDS);
          ThreadLocalRandom random = ThreadLocalRandom.current();
          for (int i = 0; i < rounds; i++) {
            int key = random.nextInt(keys);
            String priority = PRIORITIES[random.nextInt(PRIORITIES.length)];
            Permit permit = thread % 2 == 0
                ? queue.acquire(key, priority)
                : queue.acquireAsync(key, priority).get(10, SECONDS);
            try {
              raise(highWater, inFlight.incrementAndGet());
              raise(highWaterPerKey, inFlightByKey.incrementAndGet(key));
              Thread.yield();
              inFlightByKey.decrementAndGet(key);
              inFlight.decrementAndGet();
            } finally {
              permit.close();
            }
            done.incrementAndGet();
          }
          return null;
        }));
      }
      for (Future<?> f : futures) {
        f.get(60, SECONDS);
      }
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(10, SECONDS)).isTrue();
    }
    assertThat(highWater.get()).isBetween(1, 8);
    assertThat(highWaterPerKey.get()).isBetween(1, 2);
    assertThat(done.get()).isEqualTo(THREADS * rounds);
    RequestQueue.Stats<Integer> stats = queue.stats();
    assertThat(stats.admitted()).isEqualTo(THREADS * rounds);
    assertThat(stats.rejected()).isZero();
    assertThat(stats.active()).isZero();
    assertThat(stats.queued()).isZero();
  }

  @Test
  void tryAcquire_64ThreadsAtOnce_admitExactlyTheCaps_netflix233() throws Exception {
    // Netflix/concurrency-limits#233: checking the in-flight count and then incrementing it in
    // two steps let concurrent callers all pass the check, exceeding the limit.
    int rounds = 40;
    RequestQueue<Integer> queue = RequestQueue.builder()
        .maxConcurrent(20).maxConcurrentPerKey(3).build();
    AtomicInteger admittedThisRound = new AtomicInteger();
    AtomicIntegerArray admittedByKey = new AtomicIntegerArray(8);
    List<Integer> admittedPerRound = java.util.Collections.synchronizedList(new ArrayList<>());
    CyclicBarrier start = new CyclicBarrier(THREADS);
    CyclicBarrier counted = new CyclicBarrier(THREADS, () -> {
      admittedPerRound.add(admittedThisRound.getAndSet(0));
      for (int k = 0; k < 8; k++) {
        assertThat(admittedByKey.getAndSet(k, 0)).isLessThanOrEqualTo(3);
      }
    });
    CyclicBarrier released = new CyclicBarrier(THREADS);
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int key = t % 8; // 8 keys x 3 per key = 24, above the global 20
        futures.add(pool.submit(() -> {
          for (int r = 0; r < rounds; r++) {
            start.await(10, SECONDS);
            Optional<Permit> permit = queue.tryAcquire(key, "default");
            if (permit.isPresent()) {
              admittedThisRound.incrementAndGet();
              admittedByKey.incrementAndGet(key);
            }
            counted.await(10, SECONDS);
            permit.ifPresent(Permit::close);
            released.await(10, SECONDS);
          }
          return null;
        }));
      }
      for (Future<?> f : futures) {
        f.get(60, SECONDS);
      }
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(10, SECONDS)).isTrue();
    }
    assertThat(admittedPerRound).hasSize(rounds).containsOnly(20);
    RequestQueue.Stats<Integer> stats = queue.stats();
    assertThat(stats.admitted()).isEqualTo(20L * rounds);
    assertThat(stats.rejected(Reason.QUEUE_FULL)).isEqualTo((THREADS - 20L) * rounds);
    assertThat(stats.active()).isZero();
  }

  @Test
  void timeoutAndReleaseAtTheSameInstant_neverLoseOrDuplicateAPermit() throws Exception {
    // Each round a waiter's deadline fires on one thread while the only permit is released on
    // another; whichever wins, the permit must end up with the waiter or back in the queue.
    ManualClock clock = new ManualClock();
    ManualScheduler scheduler = new ManualScheduler(clock);
    RequestQueue<String> queue = RequestQueue.builder()
        .maxConcurrent(1).clock(clock).scheduler(scheduler).build();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    int granted = 0;
    int timedOut = 0;
    try {
      for (int round = 0; round < 2_000; round++) {
        Permit holder = queue.tryAcquireOrThrow("h", "default");
        CompletableFuture<Permit> waiter = queue.acquireAsync("w", "default", Duration.ofMillis(5));
        clock.advance(Duration.ofMillis(5));
        CyclicBarrier barrier = new CyclicBarrier(2);
        Future<?> release = pool.submit(() -> {
          barrier.await(10, SECONDS);
          holder.close();
          return null;
        });
        Future<?> expire = pool.submit(() -> {
          barrier.await(10, SECONDS);
          scheduler.runDue();
          return null;
        });
        release.get(10, SECONDS);
        expire.get(10, SECONDS);
        assertThat(waiter).isDone();
        if (waiter.isCompletedExceptionally()) {
          timedOut++;
        } else {
          granted++;
          waiter.get(5, SECONDS).close();
        }
        assertThat(queue.stats().active()).isZero();
        assertThat(queue.stats().queued()).isZero();
      }
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(10, SECONDS)).isTrue();
    }
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(granted + timedOut).isEqualTo(2_000);
    assertThat(stats.timedOut()).isEqualTo(timedOut);
    assertThat(stats.admitted()).isEqualTo(2_000L + granted);
    assertThat(queue.tryAcquire("x", "default")).isPresent();
  }
}
