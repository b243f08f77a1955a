package dev.sluice;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Listeners under racing threads: every attempt reported exactly once, as the stats count it. */
class EventsConcurrencyTest {

  /** Counts each kind of event. */
  static final class Counts implements QueueListener<Object>, CircuitBreakerListener {
    final AtomicLong queued = new AtomicLong();
    final AtomicLong admitted = new AtomicLong();
    final AtomicLong rejected = new AtomicLong();
    final AtomicLong cancelled = new AtomicLong();
    final AtomicLong released = new AtomicLong();
    final List<String> transitions = new ArrayList<>();

    @Override
    public void onQueued(Object key, String priority) {
      queued.incrementAndGet();
    }

    @Override
    public void onAdmitted(Object key, String priority, Duration waited) {
      admitted.incrementAndGet();
    }

    @Override
    public void onRejected(Object key, String priority, QueueRejectedException.Reason reason) {
      rejected.incrementAndGet();
    }

    @Override
    public void onCancelled(Object key, String priority, Duration waited) {
      cancelled.incrementAndGet();
    }

    @Override
    public void onReleased(Object key, String priority, Duration held) {
      released.incrementAndGet();
    }

    @Override
    public synchronized void onStateTransition(CircuitBreaker.State from,
        CircuitBreaker.State to) {
      transitions.add(from + "->" + to);
    }
  }

  @Test
  void queue_racingAcquiresCancelsAndCloses_reportEachAttemptOnce() throws Exception {
    ManualClock clock = new ManualClock();
    RequestQueue<String> queue = RequestQueue.builder().maxConcurrent(2).maxConcurrentPerKey(1)
        .maxQueued(1_000).clock(clock).scheduler(new ManualScheduler(clock)).build();
    Counts counts = new Counts();
    queue.addListener(counts);
    int threads = 4;
    int rounds = 2_000;
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        String key = "k" + (t % 3);
        done.add(pool.submit(() -> {
          start.await(5, SECONDS);
          ThreadLocalRandom random = ThreadLocalRandom.current();
          for (int i = 0; i < rounds; i++) {
            if (random.nextInt(4) == 0) {
              queue.tryAcquire(key, "default").ifPresent(RequestQueue.Permit::close);
              continue;
            }
            CompletableFuture<RequestQueue.Permit> f = queue.acquireAsync(key, "default");
            if (random.nextBoolean() && f.cancel(false)) {
              continue;
            }
            f.get(5, SECONDS).close();
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(60, SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }

    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(counts.admitted.get()).isEqualTo(stats.admitted());
    assertThat(counts.released.get()).isEqualTo(stats.admitted());
    assertThat(counts.cancelled.get()).isEqualTo(stats.cancelled());
    assertThat(counts.rejected.get()).isEqualTo(stats.rejected());
    assertThat(counts.admitted.get() + counts.cancelled.get() + counts.rejected.get())
        .isEqualTo((long) threads * rounds);
    assertThat(stats.active()).isZero();
    assertThat(stats.queued()).isZero();
  }

  @Test
  void breaker_racingFailuresAndSuccesses_deliverTransitionsAsAValidSequence() throws Exception {
    ManualClock clock = new ManualClock();
    CircuitBreaker breaker = CircuitBreaker.builder().failureThreshold(1).halfOpenProbes(1)
        .openDuration(Duration.ofNanos(1)).clock(clock).build();
    Counts counts = new Counts();
    breaker.addListener(counts);
    int threads = 4;
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        boolean fails = t % 2 == 0;
        done.add(pool.submit(() -> {
          start.await(5, SECONDS);
          for (int i = 0; i < 5_000; i++) {
            clock.advance(Duration.ofNanos(1));
            if (breaker.tryAcquirePermission()) {
              if (fails) {
                breaker.recordFailure(Duration.ZERO);
              } else {
                breaker.recordSuccess(Duration.ZERO);
              }
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(60, SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    breaker.state(); // delivers a last half-opening, if due

    List<String> seen;
    synchronized (counts) {
      seen = new ArrayList<>(counts.transitions);
    }
    assertThat(seen).isNotEmpty();
    // Delivered one at a time in the order made: each transition starts where the last ended.
    String state = "CLOSED";
    for (String t : seen) {
      assertThat(t).as("after %s", state).startsWith(state + "->");
      state = t.substring(t.indexOf("->") + 2);
    }
    assertThat(state).isEqualTo(breaker.state().name());
  }
}
