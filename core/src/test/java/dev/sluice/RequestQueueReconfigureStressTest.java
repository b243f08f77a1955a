package dev.sluice;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.QueueRejectedException.Reason;
import dev.sluice.RequestQueue.Permit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * Acquires, releases, cancels and timeouts from several threads while another thread keeps
 * changing every setting (the per-key cap on and off included). Checks that the global count
 * never rises above the cap except by permits already held when the cap was lowered, and at
 * quiescence that nothing is held or queued, every attempt ended exactly once as the caller and
 * the queue both counted it, and the full capacity is there again.
 */
class RequestQueueReconfigureStressTest {
  private static final int ATTEMPTS = 40_000;
  private static final int WORKERS = 4;
  private static final String[] PRIORITIES = {"chat", "research", "export"};

  private final ManualClock clock = new ManualClock();
  private final ManualScheduler scheduler = new ManualScheduler(clock);
  private final RequestQueue<Integer> queue = RequestQueue.builder()
      .name("reconfigured")
      .maxConcurrent(4).maxConcurrentPerKey(2)
      .maxQueued(40)
      .priorities(PRIORITIES)
      .timeout(Duration.ofMillis(20))
      .clock(clock).scheduler(scheduler)
      .build();

  private final AtomicLong attempts = new AtomicLong();
  private final AtomicLong admitted = new AtomicLong();
  private final AtomicLong cancelled = new AtomicLong();
  private final AtomicLongArray rejected = new AtomicLongArray(Reason.values().length);
  private final ConcurrentLinkedQueue<Permit> held = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<CompletableFuture<Permit>> pending =
      new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
  private volatile boolean stop;

  @Test
  void concurrentChanges_underLoad_loseAndLeakNoPermit() throws Exception {
    List<Thread> workers = new ArrayList<>();
    CyclicBarrier barrier = new CyclicBarrier(WORKERS + 1);
    for (int w = 0; w < WORKERS; w++) {
      workers.add(new Thread(() -> work(barrier), "reconfigure-worker-" + w));
    }
    Thread ticker = new Thread(() -> {
      while (!stop) {
        scheduler.advance(Duration.ofMillis(1));
        LockSupport.parkNanos(20_000);
      }
    }, "reconfigure-ticker");
    AtomicLong changes = new AtomicLong();
    AtomicLong checks = new AtomicLong();
    Thread changer = new Thread(() -> change(changes, checks), "reconfigure-changer");
    workers.forEach(Thread::start);
    barrier.await(10, SECONDS);
    ticker.start();
    changer.start();
    for (Thread w : workers) {
      w.join(SECONDS.toMillis(60));
      assertThat(w.isAlive()).as("%s finished", w.getName()).isFalse();
    }
    stop = true;
    ticker.join(SECONDS.toMillis(5));
    changer.join(SECONDS.toMillis(5));
    assertThat(ticker.isAlive() || changer.isAlive()).isFalse();
    assertThat(errors).isEmpty();
    assertThat(changes.get()).isPositive();
    assertThat(checks.get()).isPositive();

    // Quiesce under known settings: end every wait and give back every permit.
    queue.reconfigure(new RequestQueue.Settings(3, 1, 40, Duration.ofMillis(20)));
    long deadline = System.nanoTime() + SECONDS.toNanos(10);
    while (queue.stats().queued() > 0 || !held.isEmpty() || counted() < attempts.get()) {
      assertThat(System.nanoTime() - deadline).as("quiescence").isNegative();
      scheduler.advance(Duration.ofSeconds(1));
      closeHeld(Integer.MAX_VALUE);
      Thread.onSpinWait();
    }

    RequestQueue.Stats<Integer> stats = queue.stats();
    assertThat(stats.active()).isZero();
    assertThat(stats.queued()).isZero();
    assertThat(stats.activeByKey()).isEmpty();
    assertThat(stats.admitted()).isEqualTo(admitted.get());
    assertThat(stats.cancelled()).isEqualTo(cancelled.get());
    for (Reason r : Reason.values()) {
      assertThat(stats.rejected(r)).as("rejected %s", r).isEqualTo(rejected.get(r.ordinal()));
    }
    assertThat(stats.completed()).isEqualTo(attempts.get());
    assertThat(admitted.get()).isPositive();
    assertThat(cancelled.get()).isPositive();
    assertThat(stats.rejected(Reason.QUEUE_FULL)).isPositive();
    assertThat(stats.rejected(Reason.TIMED_OUT)).isPositive();
    // Capacity is whole again, under the final caps: 3 in all, 1 per key.
    List<Permit> all = new ArrayList<>();
    assertThat(queue.tryAcquire(0, "chat")).hasValueSatisfying(all::add);
    assertThat(queue.tryAcquire(0, "chat")).isEmpty();
    for (int k = 1; k < 5; k++) {
      queue.tryAcquire(k, "chat").ifPresent(all::add);
    }
    assertThat(all).hasSize(3);
    all.forEach(Permit::close);
    assertThat(queue.stats().active()).isZero();
  }

  /**
   * Changes the settings at random; after each change, until the next, the global count stays
   * at most the larger of the new cap and the count read just after the change (permits held
   * from before are never revoked, and nothing is admitted above the new cap).
   */
  private void change(AtomicLong changes, AtomicLong checks) {
    try {
      ThreadLocalRandom random = ThreadLocalRandom.current();
      while (!stop) {
        int max = 1 + random.nextInt(6);
        int perKey = random.nextBoolean() ? max : 1 + random.nextInt(max);
        queue.reconfigure(new RequestQueue.Settings(max, perKey, random.nextInt(41),
            Duration.ofMillis(1 + random.nextInt(30))));
        changes.incrementAndGet();
        int holdover = queue.stats().active();
        for (int i = 0; i < 20 && !stop; i++) {
          int active = queue.stats().active();
          if (active > Math.max(max, holdover)) {
            errors.add(new AssertionError("active " + active + " above cap " + max
                + " (held over the change: " + holdover + ")"));
            return;
          }
          checks.incrementAndGet();
          LockSupport.parkNanos(10_000);
        }
      }
    } catch (Throwable t) {
      errors.add(t);
    }
  }

  private long counted() {
    long sum = admitted.get() + cancelled.get();
    for (int i = 0; i < rejected.length(); i++) {
      sum += rejected.get(i);
    }
    return sum;
  }

  private void work(CyclicBarrier barrier) {
    try {
      barrier.await(10, SECONDS);
      ThreadLocalRandom random = ThreadLocalRandom.current();
      while (attempts.get() < ATTEMPTS) {
        int key = random.nextInt(6);
        String priority = PRIORITIES[random.nextInt(PRIORITIES.length)];
        int op = random.nextInt(100);
        if (op < 20) {
          tryAcquire(key, priority, random);
        } else if (op < 55) {
          acquireAsync(key, priority, random);
        } else if (op < 65) {
          acquireBlocking(key, priority, random);
        } else if (op < 80) {
          cancelPending(random);
        } else {
          closeHeld(1 + random.nextInt(3));
        }
      }
    } catch (Throwable t) {
      errors.add(t);
    }
  }

  private void tryAcquire(int key, String priority, ThreadLocalRandom random) {
    attempts.incrementAndGet();
    Optional<Permit> permit = queue.tryAcquire(key, priority);
    if (permit.isPresent()) {
      admitted.incrementAndGet();
      hold(permit.get(), random);
    } else {
      rejected.incrementAndGet(Reason.QUEUE_FULL.ordinal());
    }
  }

  private void acquireAsync(int key, String priority, ThreadLocalRandom random) {
    attempts.incrementAndGet();
    CompletableFuture<Permit> future = random.nextBoolean()
        ? queue.acquireAsync(key, priority)
        : queue.acquireAsync(key, priority, Duration.ofMillis(1 + random.nextInt(30)));
    future.whenComplete((permit, failure) -> {
      if (failure == null) {
        admitted.incrementAndGet();
        held.add(permit);
        return;
      }
      Throwable cause = failure instanceof CompletionException ? failure.getCause() : failure;
      if (cause instanceof QueueRejectedException) {
        rejected.incrementAndGet(((QueueRejectedException) cause).reason().ordinal());
      } else if (cause instanceof CancellationException || cause instanceof TimeoutException) {
        cancelled.incrementAndGet();
      } else {
        errors.add(cause);
      }
    });
    if (!future.isDone()) {
      pending.add(future);
    }
  }

  private void acquireBlocking(int key, String priority, ThreadLocalRandom random) {
    attempts.incrementAndGet();
    try {
      Permit permit = queue.acquire(key, priority, Duration.ofMillis(1 + random.nextInt(30)));
      admitted.incrementAndGet();
      hold(permit, random);
    } catch (QueueRejectedException e) {
      rejected.incrementAndGet(e.reason().ordinal());
    } catch (InterruptedException e) {
      cancelled.incrementAndGet();
    }
  }

  private void cancelPending(ThreadLocalRandom random) {
    CompletableFuture<Permit> future = pending.poll();
    if (future == null) {
      return;
    }
    if (random.nextBoolean()) {
      future.cancel(false);
    } else {
      future.completeExceptionally(new TimeoutException());
    }
  }

  private void hold(Permit permit, ThreadLocalRandom random) {
    if (random.nextBoolean()) {
      permit.close();
      if (random.nextInt(8) == 0) {
        permit.close();
      }
    } else {
      held.add(permit);
    }
  }

  private void closeHeld(int n) {
    for (int i = 0; i < n; i++) {
      Permit permit = held.poll();
      if (permit == null) {
        return;
      }
      permit.close();
    }
  }
}
