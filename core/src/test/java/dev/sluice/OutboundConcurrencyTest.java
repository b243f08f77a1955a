package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.internal.RetryBudget;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class OutboundConcurrencyTest {
  private static final int THREADS = 4;
  private final ExecutorService pool = Executors.newFixedThreadPool(THREADS);

  @AfterEach
  void stop() throws InterruptedException {
    pool.shutdownNow();
    assertThat(pool.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
  }

  private void onBarrier(Runnable body) throws Exception {
    CyclicBarrier start = new CyclicBarrier(THREADS);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      done.add(pool.submit(() -> {
        start.await(5, TimeUnit.SECONDS);
        body.run();
        return null;
      }));
    }
    for (Future<?> f : done) {
      f.get(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void pacing_concurrentCallers_eachGetADistinctTurn() throws Exception {
    ManualClock clock = new ManualClock();
    ManualScheduler scheduler = new ManualScheduler(clock);
    OutboundGuard g = OutboundGuard.builder().name("pubmed").clock(clock).scheduler(scheduler)
        .pacing(3, Duration.ofSeconds(1)).maxPacingWait(Duration.ofHours(1)).build();
    int perThread = 50;
    onBarrier(() -> {
      for (int i = 0; i < perThread; i++) {
        g.callAsync(() -> CompletableFuture.completedFuture("x"));
      }
    });
    Set<Duration> expected = new HashSet<>();
    for (int k = 1; k < THREADS * perThread; k++) {
      expected.add(Duration.ofNanos(k * 333_333_334L));
    }
    List<Duration> waits = scheduler.waits();
    assertThat(waits).hasSize(THREADS * perThread - 1);
    assertThat(new HashSet<>(waits)).isEqualTo(expected);
  }

  @Test
  void breaker_concurrentFailures_openItExactlyOnce() throws Exception {
    AtomicInteger opened = new AtomicInteger();
    CircuitBreaker breaker = CircuitBreaker.builder().failureThreshold(5)
        .clock(new ManualClock())
        .onStateChange((n, from, to) -> {
          if (to == CircuitBreaker.State.OPEN) {
            opened.incrementAndGet();
          }
        }).build();
    onBarrier(() -> {
      for (int i = 0; i < 25; i++) {
        if (breaker.tryAcquirePermission()) {
          breaker.recordFailure(Duration.ZERO);
        }
      }
    });
    assertThat(opened).hasValue(1);
    assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.OPEN);
  }

  @Test
  void retryBudget_concurrentWithdrawals_neverOverspend() throws Exception {
    RetryBudget budget = new RetryBudget(0.1, 10);
    AtomicInteger granted = new AtomicInteger();
    onBarrier(() -> {
      for (int i = 0; i < 1000; i++) {
        if (budget.tryWithdraw()) {
          granted.incrementAndGet();
        }
      }
    });
    assertThat(granted).hasValue(10);
    assertThat(budget.tokens()).isZero();
  }
}
