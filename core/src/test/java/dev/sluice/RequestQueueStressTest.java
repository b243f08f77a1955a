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
 * Mixes every form with cancels, caller-side timeouts, scheduler timeouts, interrupts, throwing
 * tasks, drains and bypass toggles, then checks that at quiescence nothing is held or queued and
 * every attempt was counted exactly once, the same way by the caller and by the queue.
 */
class RequestQueueStressTest {
  private static final int ATTEMPTS = 100_000;
  private static final int WORKERS = 6;
  private static final String[] PRIORITIES = {"chat", "research", "export"};

  private final ManualClock clock = new ManualClock();
  private final ManualScheduler scheduler = new ManualScheduler(clock);
  private final RequestQueue<Integer> queue = RequestQueue.builder()
      .name("stress")
      .maxConcurrent(4).maxConcurrentPerKey(2)
      .maxQueued(48).maxQueuedPerKey(12)
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

  private static final class TaskFailure extends Exception {
    private static final long serialVersionUID = 1L;

    TaskFailure() {
      super("task failed on purpose", null, false, false);
    }
  }

  @Test
  void randomMixOfAllForms_atQuiescence_holdsNothingAndCountsEveryAttemptOnce() throws Exception {
    List<Thread> workers = new ArrayList<>();
    CyclicBarrier barrier = new CyclicBarrier(WORKERS + 1);
    for (int w = 0; w < WORKERS; w++) {
      workers.add(new Thread(() -> work(barrier), "stress-worker-" + w));
    }
    Thread ticker = new Thread(() -> {
      while (!stop) {
        scheduler.advance(Duration.ofMillis(1));
        LockSupport.parkNanos(20_000); // throttles the ticker; time itself is the fake clock
      }
    }, "stress-ticker");
    Thread interrupter = new Thread(() -> {
      ThreadLocalRandom random = ThreadLocalRandom.current();
      while (!stop) {
        workers.get(random.nextInt(WORKERS)).interrupt();
        LockSupport.parkNanos(50_000);
      }
    }, "stress-interrupter");
    workers.forEach(Thread::start);
    barrier.await(10, SECONDS); // no interrupt may hit a worker still at the barrier
    ticker.start();
    interrupter.start();
    for (Thread w : workers) {
      w.join(SECONDS.toMillis(50));
      assertThat(w.isAlive()).as("%s finished", w.getName()).isFalse();
    }
    stop = true;
    ticker.join(SECONDS.toMillis(5));
    interrupter.join(SECONDS.toMillis(5));
    assertThat(errors).isEmpty();

    // Quiesce: end every wait and give back every permit, then let late callbacks finish.
    queue.bypass(false);
    long deadline = System.nanoTime() + SECONDS.toNanos(10);
    while (queue.stats().queued() > 0 || !held.isEmpty() || counted() < attempts.get()) {
      assertThat(System.nanoTime() - deadline).as("quiescence").isNegative();
      scheduler.advance(Duration.ofSeconds(1));
      closeHeld(Integer.MAX_VALUE);
      Thread.onSpinWait();
    }

    RequestQueue.Stats<Integer> stats = queue.stats();
    assertThat(attempts.get()).isGreaterThanOrEqualTo(ATTEMPTS);
    assertThat(stats.active()).isZero();
    assertThat(stats.queued()).isZero();
    assertThat(stats.activeByKey()).isEmpty();
    assertThat(stats.admitted()).isEqualTo(admitted.get());
    assertThat(stats.cancelled()).isEqualTo(cancelled.get());
    for (Reason r : Reason.values()) {
      assertThat(stats.rejected(r)).as("rejected %s", r).isEqualTo(rejected.get(r.ordinal()));
    }
    assertThat(stats.completed()).isEqualTo(attempts.get());
    // Every outcome occurred, so the mix really exercised each path.
    assertThat(admitted.get()).isPositive();
    assertThat(cancelled.get()).isPositive();
    assertThat(stats.rejected(Reason.QUEUE_FULL)).isPositive();
    assertThat(stats.rejected(Reason.TIMED_OUT)).isPositive();
    // Capacity is whole again.
    List<Permit> all = new ArrayList<>();
    for (int k = 0; k < 4; k++) {
      queue.tryAcquire(k, "chat").ifPresent(all::add);
    }
    assertThat(all).hasSize(4);
    all.forEach(Permit::close);
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
        Thread.interrupted(); // interrupts meant for an earlier operation
        int key = random.nextInt(8);
        String priority = PRIORITIES[random.nextInt(PRIORITIES.length)];
        int op = random.nextInt(100);
        if (op < 15) {
          tryAcquire(key, priority, random);
        } else if (op < 45) {
          acquireAsync(key, priority, random);
        } else if (op < 60) {
          acquireBlocking(key, priority, random);
        } else if (op < 70) {
          call(key, priority, random);
        } else if (op < 85) {
          cancelPending(random);
        } else if (op < 99) {
          closeHeld(1 + random.nextInt(3));
        } else {
          int rare = random.nextInt(100);
          if (rare == 0) {
            queue.drain();
          } else if (rare == 1) {
            queue.bypass(true);
          } else if (rare < 10) {
            queue.bypass(false);
          }
        }
      }
    } catch (Throwable t) {
      errors.add(t);
    }
  }

  private void tryAcquire(int key, String priority, ThreadLocalRandom random) {
    attempts.incrementAndGet();
    if (random.nextBoolean()) {
      Optional<Permit> permit = queue.tryAcquire(key, priority);
      if (permit.isPresent()) {
        admitted.incrementAndGet();
        hold(permit.get(), random);
      } else {
        rejected.incrementAndGet(Reason.QUEUE_FULL.ordinal());
      }
    } else {
      try {
        hold(queue.tryAcquireOrThrow(key, priority), random);
        admitted.incrementAndGet();
      } catch (QueueRejectedException e) {
        rejected.incrementAndGet(e.reason().ordinal());
      }
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
    if (random.nextInt(4) == 0) {
      Thread.currentThread().interrupt(); // interrupted before it even waits
    }
    try {
      Permit permit = random.nextBoolean()
          ? queue.acquire(key, priority)
          : queue.acquire(key, priority, Duration.ofMillis(1 + random.nextInt(30)));
      admitted.incrementAndGet();
      hold(permit, random);
    } catch (QueueRejectedException e) {
      rejected.incrementAndGet(e.reason().ordinal());
    } catch (InterruptedException e) {
      cancelled.incrementAndGet();
    }
  }

  private void call(int key, String priority, ThreadLocalRandom random) {
    attempts.incrementAndGet();
    boolean fail = random.nextBoolean();
    try {
      queue.call(key, priority, () -> {
        admitted.incrementAndGet();
        if (fail) {
          throw new TaskFailure();
        }
        return null;
      });
    } catch (TaskFailure expected) {
      // admitted, and the permit was released
    } catch (QueueRejectedException e) {
      rejected.incrementAndGet(e.reason().ordinal());
    } catch (InterruptedException e) {
      cancelled.incrementAndGet();
    } catch (Exception e) {
      errors.add(e);
    }
  }

  private void cancelPending(ThreadLocalRandom random) {
    CompletableFuture<Permit> future = pending.poll();
    if (future == null) {
      return;
    }
    if (random.nextBoolean()) {
      future.cancel(random.nextBoolean());
    } else {
      future.completeExceptionally(new TimeoutException()); // as orTimeout would
    }
  }

  private void hold(Permit permit, ThreadLocalRandom random) {
    if (random.nextBoolean()) {
      permit.close();
      if (random.nextInt(8) == 0) {
        permit.close(); // twice: must be harmless
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
