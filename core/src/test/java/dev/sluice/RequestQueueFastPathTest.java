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
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Races of the lock-free fast path (taken while nobody waits) against the locked slow path: a
 * release by CAS against a waiter being queued, a key reservation given back, idle keys swept
 * while in use. Every wait is bounded and long queue timeouts are used, so a waiter stranded
 * beside a free permit fails the test instead of being rescued by its timeout.
 */
class RequestQueueFastPathTest {
  private static final Duration FOREVER = Duration.ofHours(1);

  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void stopThreads() throws InterruptedException {
    pool.shutdownNow();
    assertThat(pool.awaitTermination(10, SECONDS)).isTrue();
  }

  /** Raises {@code max} to {@code value} if it is higher. */
  private static void raise(AtomicInteger max, int value) {
    max.accumulateAndGet(value, Math::max);
  }

  private void runAll(int threads, Worker worker) throws Exception {
    CyclicBarrier start = new CyclicBarrier(threads);
    List<Future<?>> futures = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      futures.add(pool.submit(() -> {
        start.await(10, SECONDS);
        worker.run(thread);
        return null;
      }));
    }
    for (Future<?> f : futures) {
      f.get(120, SECONDS);
    }
  }

  @FunctionalInterface
  private interface Worker {
    void run(int thread) throws Exception;
  }

  @Test
  void fastRelease_racingAWaiterBeingQueued_neverStrandsTheWaiter() throws Exception {
    // One permit: the holder releases it by CAS while another thread finds it taken and queues.
    // Whatever the interleaving, the waiter must get the permit at once (the timeout is an hour).
    raceReleaseAgainstEnqueue(RequestQueue.builder()
        .maxConcurrent(1).timeout(FOREVER).<String>build());
  }

  @Test
  void fastRelease_racingAWaiterOfTheSameKeyAtItsCap_neverStrandsTheWaiter() throws Exception {
    // Global room, but the key is at its cap: the release lowers the key count first.
    raceReleaseAgainstEnqueue(RequestQueue.builder()
        .maxConcurrent(4).maxConcurrentPerKey(1).timeout(FOREVER).<String>build());
  }

  private void raceReleaseAgainstEnqueue(RequestQueue<String> queue) throws Exception {
    int rounds = 20_000;
    CyclicBarrier go = new CyclicBarrier(2);
    CyclicBarrier next = new CyclicBarrier(2);
    Permit[] holder = new Permit[1];
    AtomicInteger queuedSeen = new AtomicInteger();
    Future<?> releaser = pool.submit(() -> {
      for (int r = 0; r < rounds; r++) {
        go.await(10, SECONDS);
        holder[0].close();
        next.await(10, SECONDS);
      }
      return null;
    });
    for (int r = 0; r < rounds; r++) {
      holder[0] = queue.tryAcquireOrThrow("k", "default");
      go.await(10, SECONDS);
      CompletableFuture<Permit> waiter = queue.acquireAsync("k", "default");
      if (!waiter.isDone()) {
        queuedSeen.incrementAndGet();
      }
      waiter.get(5, SECONDS).close();
      next.await(10, SECONDS);
    }
    releaser.get(10, SECONDS);
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.admitted()).isEqualTo(2L * rounds);
    assertThat(stats.rejected()).isZero();
    assertThat(stats.cancelled()).isZero();
    assertThat(stats.active()).isZero();
    assertThat(stats.queued()).isZero();
    assertThat(stats.activeByKey()).isEmpty();
    // Both sides of the race happened (the waiter is queued in most rounds on 2 cores).
    assertThat(queuedSeen.get()).isPositive();
  }

  @Test
  void tryAcquireAndAcquireAsync_16ThreadsOnOnePermit_neverExceedItAndCountExactly()
      throws Exception {
    int threads = 16;
    int rounds = 2_000;
    RequestQueue<String> queue = RequestQueue.builder()
        .maxConcurrent(1).maxQueued(threads).timeout(FOREVER).<String>build();
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger highWater = new AtomicInteger();
    AtomicLong admitted = new AtomicLong();
    AtomicLong refused = new AtomicLong();
    runAll(threads, thread -> {
      ThreadLocalRandom random = ThreadLocalRandom.current();
      for (int i = 0; i < rounds; i++) {
        Permit permit;
        if (random.nextBoolean()) {
          Optional<Permit> tried = queue.tryAcquire("k", "default");
          if (tried.isEmpty()) {
            refused.incrementAndGet();
            continue;
          }
          permit = tried.get();
        } else {
          permit = queue.acquireAsync("k", "default").get(10, SECONDS);
        }
        admitted.incrementAndGet();
        raise(highWater, inFlight.incrementAndGet());
        Thread.yield();
        inFlight.decrementAndGet();
        permit.close();
        if (random.nextInt(4) == 0) {
          permit.close(); // twice: must be harmless
        }
      }
    });
    assertThat(highWater.get()).isEqualTo(1);
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(admitted.get() + refused.get()).isEqualTo((long) threads * rounds);
    assertThat(stats.admitted()).isEqualTo(admitted.get());
    assertThat(stats.rejected(Reason.QUEUE_FULL)).isEqualTo(refused.get());
    assertThat(stats.rejected()).isEqualTo(refused.get());
    assertThat(stats.cancelled()).isZero();
    assertThat(stats.active()).isZero();
    assertThat(stats.queued()).isZero();
    assertThat(queue.tryAcquire("k", "default")).isPresent();
  }

  @Test
  void everyForm_64Threads_highWaterWithinBothCaps_andCountsExact() throws Exception {
    int threads = 64;
    int rounds = 300;
    int keys = 6;
    String[] priorities = {"chat", "research", "export"};
    RequestQueue<Integer> queue = RequestQueue.builder()
        .maxConcurrent(8).maxConcurrentPerKey(2).maxQueued(threads)
        .priorities(priorities).timeout(FOREVER).<Integer>build();
    AtomicInteger inFlight = new AtomicInteger();
    AtomicIntegerArray inFlightByKey = new AtomicIntegerArray(keys);
    AtomicInteger highWater = new AtomicInteger();
    AtomicInteger highWaterPerKey = new AtomicInteger();
    AtomicLong admitted = new AtomicLong();
    AtomicLong refused = new AtomicLong();
    AtomicInteger statsOverCap = new AtomicInteger();
    Future<?> watcher = pool.submit(() -> {
      // Snapshots taken while the fast path runs never show more than the caps.
      while (!Thread.currentThread().isInterrupted() && admitted.get() + refused.get()
          < (long) threads * rounds) {
        RequestQueue.Stats<Integer> s = queue.stats();
        if (s.active() > 8 || s.activeByKey().values().stream().anyMatch(n -> n > 2)) {
          statsOverCap.incrementAndGet();
        }
        Thread.yield();
      }
      return null;
    });
    runAll(threads, thread -> {
      ThreadLocalRandom random = ThreadLocalRandom.current();
      for (int i = 0; i < rounds; i++) {
        int key = random.nextInt(keys);
        String priority = priorities[random.nextInt(priorities.length)];
        Permit permit;
        switch (random.nextInt(4)) {
          case 0:
            Optional<Permit> tried = queue.tryAcquire(key, priority);
            permit = tried.orElse(null);
            break;
          case 1:
            try {
              permit = queue.tryAcquireOrThrow(key, priority);
            } catch (QueueRejectedException e) {
              assertThat(e.reason()).isEqualTo(Reason.QUEUE_FULL);
              permit = null;
            }
            break;
          case 2:
            permit = queue.acquire(key, priority);
            break;
          default:
            permit = queue.acquireAsync(key, priority).get(10, SECONDS);
            break;
        }
        if (permit == null) {
          refused.incrementAndGet();
          continue;
        }
        admitted.incrementAndGet();
        try {
          raise(highWater, inFlight.incrementAndGet());
          raise(highWaterPerKey, inFlightByKey.incrementAndGet(key));
          Thread.yield();
          inFlightByKey.decrementAndGet(key);
          inFlight.decrementAndGet();
        } finally {
          permit.close();
        }
      }
    });
    watcher.get(10, SECONDS);
    assertThat(highWater.get()).isBetween(1, 8);
    assertThat(highWaterPerKey.get()).isBetween(1, 2);
    assertThat(statsOverCap.get()).isZero();
    assertThat(admitted.get() + refused.get()).isEqualTo((long) threads * rounds);
    RequestQueue.Stats<Integer> stats = queue.stats();
    assertThat(stats.admitted()).isEqualTo(admitted.get());
    assertThat(stats.rejected(Reason.QUEUE_FULL)).isEqualTo(refused.get());
    assertThat(stats.rejected()).isEqualTo(refused.get());
    assertThat(stats.cancelled()).isZero();
    assertThat(stats.active()).isZero();
    assertThat(stats.activeByKey()).isEmpty();
    assertThat(stats.queued()).isZero();
  }

  @Test
  void keyReservationGivenBack_whileItsKeyHasAWaiter_theWaiterIsStillGranted() throws Exception {
    // Global 2, per key 1. Tries on key "a" raise its count and may then find the global cap
    // reached by "b" and "c": they give the reservation back, possibly after a waiter of "a"
    // was queued because "a" looked full. That waiter must not be left out of the turn order.
    int rounds = 3_000;
    RequestQueue<String> queue = RequestQueue.builder()
        .maxConcurrent(2).maxConcurrentPerKey(1).maxQueued(64).timeout(FOREVER).<String>build();
    AtomicIntegerArray inFlightByKey = new AtomicIntegerArray(3);
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger highWater = new AtomicInteger();
    AtomicInteger highWaterPerKey = new AtomicInteger();
    AtomicLong admitted = new AtomicLong();
    AtomicLong refused = new AtomicLong();
    String[] keys = {"a", "b", "c"};
    runAll(10, thread -> {
      for (int i = 0; i < rounds; i++) {
        Permit permit;
        int key;
        if (thread < 6) {
          key = 0;
          Optional<Permit> tried = queue.tryAcquire("a", "default");
          if (tried.isEmpty()) {
            refused.incrementAndGet();
            continue;
          }
          permit = tried.get();
        } else if (thread < 8) {
          key = 0;
          permit = queue.acquireAsync("a", "default").get(10, SECONDS);
        } else {
          key = thread - 7;
          permit = queue.acquire(keys[key], "default");
        }
        admitted.incrementAndGet();
        raise(highWater, inFlight.incrementAndGet());
        raise(highWaterPerKey, inFlightByKey.incrementAndGet(key));
        inFlightByKey.decrementAndGet(key);
        inFlight.decrementAndGet();
        permit.close();
      }
    });
    assertThat(highWater.get()).isBetween(1, 2);
    assertThat(highWaterPerKey.get()).isEqualTo(1);
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.admitted()).isEqualTo(admitted.get());
    assertThat(stats.rejected()).isEqualTo(refused.get());
    assertThat(stats.active()).isZero();
    assertThat(stats.queued()).isZero();
  }

  @Test
  void keyReservationGivenBack_afterItsKeysWaiterQueued_grantsTheWaiterWithoutFurtherHelp()
      throws Exception {
    // Each round: "b" holds one of 2 permits; at once a try on "a" (per-key cap 1), a try on
    // "c" and a queued attempt on "a" race. The try may raise "a" to 1, lose the last global
    // permit to "c", and give "a" back after the waiter saw "a" full and queued. Once the try
    // and "c" are done nothing else happens, so the waiter must already have its permit.
    int rounds = 20_000;
    RequestQueue<String> queue = RequestQueue.builder()
        .maxConcurrent(2).maxConcurrentPerKey(1).timeout(FOREVER).<String>build();
    CyclicBarrier go = new CyclicBarrier(3);
    CyclicBarrier done = new CyclicBarrier(3);
    Future<?> trier = pool.submit(() -> {
      for (int r = 0; r < rounds; r++) {
        go.await(10, SECONDS);
        queue.tryAcquire("a", "default").ifPresent(Permit::close);
        done.await(10, SECONDS);
      }
      return null;
    });
    Future<?> other = pool.submit(() -> {
      for (int r = 0; r < rounds; r++) {
        go.await(10, SECONDS);
        queue.tryAcquire("c", "default").ifPresent(Permit::close);
        done.await(10, SECONDS);
      }
      return null;
    });
    for (int r = 0; r < rounds; r++) {
      Permit b = queue.tryAcquireOrThrow("b", "default");
      go.await(10, SECONDS);
      CompletableFuture<Permit> waiter = queue.acquireAsync("a", "default");
      done.await(10, SECONDS);
      waiter.get(5, SECONDS).close();
      b.close();
    }
    trier.get(10, SECONDS);
    other.get(10, SECONDS);
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.completed()).isEqualTo(4L * rounds);
    assertThat(stats.admitted() - stats.rejected(Reason.QUEUE_FULL)).isPositive();
    assertThat(stats.active()).isZero();
    assertThat(stats.queued()).isZero();
  }

  @Test
  void idleKeysSweptWhileHotKeysRun_neverSplitAKey_soThePerKeyCapHolds() throws Exception {
    // Fresh keys grow the key map past its sweep threshold again and again; a sweep must never
    // drop a hot key's state while a fast attempt is about to raise it (two states for one key
    // would let it hold two permits).
    int threads = 8;
    int rounds = 20_000;
    int hotKeys = 4;
    RequestQueue<Integer> queue = RequestQueue.builder()
        .maxConcurrent(64).maxConcurrentPerKey(1).<Integer>build();
    AtomicIntegerArray inFlightByKey = new AtomicIntegerArray(hotKeys);
    AtomicInteger highWaterPerKey = new AtomicInteger();
    AtomicLong admitted = new AtomicLong();
    AtomicLong refused = new AtomicLong();
    runAll(threads, thread -> {
      ThreadLocalRandom random = ThreadLocalRandom.current();
      for (int i = 0; i < rounds; i++) {
        boolean hot = random.nextBoolean();
        int key = hot ? random.nextInt(hotKeys) : hotKeys + thread * rounds + i;
        Optional<Permit> permit = queue.tryAcquire(key, "default");
        if (permit.isEmpty()) {
          assertThat(hot).as("a fresh key is always admitted").isTrue();
          refused.incrementAndGet();
          continue;
        }
        admitted.incrementAndGet();
        if (hot) {
          raise(highWaterPerKey, inFlightByKey.incrementAndGet(key));
          Thread.yield();
          inFlightByKey.decrementAndGet(key);
        }
        permit.get().close();
      }
    });
    assertThat(highWaterPerKey.get()).isEqualTo(1);
    RequestQueue.Stats<Integer> stats = queue.stats();
    assertThat(admitted.get() + refused.get()).isEqualTo((long) threads * rounds);
    assertThat(stats.admitted()).isEqualTo(admitted.get());
    assertThat(stats.rejected()).isEqualTo(refused.get());
    assertThat(stats.active()).isZero();
    assertThat(stats.activeByKey()).isEmpty();
  }

  @Test
  void fastAdmissions_countedInTheGlobalWord_areFoldedIntoStatsExactly() {
    // Fast admissions are counted in a batch inside the global word and folded in under the
    // lock; stats in between must still show every one.
    RequestQueue<String> queue =
        RequestQueue.builder().maxConcurrent(3).maxConcurrentPerKey(2).<String>build();
    for (int i = 0; i < 10_000; i++) {
      queue.tryAcquireOrThrow("k", "default").close();
      if (i % 1_000 == 0) {
        assertThat(queue.stats().admitted()).isEqualTo(i + 1L);
      }
    }
    Permit a = queue.tryAcquireOrThrow("k", "default");
    Permit b = queue.tryAcquireOrThrow("j", "default");
    Permit c = queue.tryAcquireOrThrow("k", "default");
    assertThat(queue.tryAcquire("x", "default")).isEmpty(); // refused by the fast path
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.admitted()).isEqualTo(10_003L);
    assertThat(stats.rejected(Reason.QUEUE_FULL)).isEqualTo(1);
    assertThat(stats.active()).isEqualTo(3);
    assertThat(stats.activeByKey()).containsOnly(
        java.util.Map.entry("k", 2), java.util.Map.entry("j", 1));
    a.close();
    b.close();
    c.close();
    assertThat(queue.stats().active()).isZero();
  }
}
