package dev.sluice.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.RequestQueue;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ManualSchedulerTest {
  private final ManualScheduler scheduler = new ManualScheduler();
  private final List<String> ran = new ArrayList<>();

  @Test
  void advance_runsDueTasksInDueOrder_eachAtItsDueTime() {
    long origin = scheduler.nanoTime();
    List<Long> at = new ArrayList<>();
    scheduler.schedule(() -> at.add(scheduler.nanoTime() - origin), 300, TimeUnit.MILLISECONDS);
    scheduler.schedule(() -> at.add(scheduler.nanoTime() - origin), 100, TimeUnit.MILLISECONDS);
    scheduler.schedule(() -> at.add(scheduler.nanoTime() - origin), 2, TimeUnit.SECONDS);
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(at).containsExactly(100_000_000L, 300_000_000L);
    assertThat(scheduler.nanoTime() - origin).isEqualTo(1_000_000_000L);
    assertThat(scheduler.pending()).isEqualTo(1);
  }

  @Test
  void tasksDueAtTheSameTime_runInTheOrderScheduled() {
    for (String name : List.of("a", "b", "c")) {
      scheduler.schedule(() -> ran.add(name), 5, TimeUnit.SECONDS);
    }
    scheduler.advance(Duration.ofSeconds(5));
    assertThat(ran).containsExactly("a", "b", "c");
  }

  @Test
  void aTaskScheduledByARunningTask_runsInTheSameAdvance_ifDueBeforeTheTarget() {
    scheduler.schedule(() -> {
      ran.add("first");
      scheduler.schedule(() -> ran.add("second"), 1, TimeUnit.SECONDS);
      scheduler.schedule(() -> ran.add("too late"), 10, TimeUnit.SECONDS);
    }, 1, TimeUnit.SECONDS);
    scheduler.advance(Duration.ofSeconds(3));
    assertThat(ran).containsExactly("first", "second");
    assertThat(scheduler.pending()).isEqualTo(1);
  }

  @Test
  void cancelledTask_neverRuns_andIsNotPending() {
    Future<?> handle = scheduler.schedule(() -> ran.add("x"), 1, TimeUnit.SECONDS);
    assertThat(handle.cancel(false)).isTrue();
    scheduler.advance(Duration.ofSeconds(2));
    assertThat(ran).isEmpty();
    assertThat(scheduler.pending()).isZero();
  }

  @Test
  void runDue_runsZeroDelayTasks_withoutMovingTheClock() {
    long before = scheduler.nanoTime();
    scheduler.schedule(() -> ran.add("now"), 0, TimeUnit.SECONDS);
    scheduler.schedule(() -> ran.add("later"), 1, TimeUnit.NANOSECONDS);
    scheduler.runDue();
    assertThat(ran).containsExactly("now");
    assertThat(scheduler.nanoTime()).isEqualTo(before);
  }

  @Test
  void delaysAndWaits_recordEveryRequestInOrder() {
    scheduler.schedule(() -> { }, 0, TimeUnit.SECONDS);
    scheduler.schedule(() -> { }, 200, TimeUnit.MILLISECONDS);
    scheduler.schedule(() -> { }, 1, TimeUnit.SECONDS);
    assertThat(scheduler.delays())
        .containsExactly(Duration.ZERO, Duration.ofMillis(200), Duration.ofSeconds(1));
    assertThat(scheduler.waits()).containsExactly(Duration.ofMillis(200), Duration.ofSeconds(1));
  }

  @Test
  void await_runsTasksJumpingTheClock_untilTheFutureIsDone() throws Exception {
    CompletableFuture<String> call = new CompletableFuture<>();
    long origin = scheduler.nanoTime();
    scheduler.schedule(() -> scheduler.schedule(() -> call.complete("done"), 2, TimeUnit.SECONDS),
        3, TimeUnit.SECONDS);
    scheduler.schedule(() -> ran.add("after the call"), 1, TimeUnit.HOURS);
    assertThat(scheduler.await(call)).isEqualTo("done");
    assertThat(scheduler.nanoTime() - origin).isEqualTo(Duration.ofSeconds(5).toNanos());
    assertThat(ran).isEmpty();
  }

  @Test
  void await_failedCall_throwsItsExecutionException() {
    CompletableFuture<String> call = new CompletableFuture<>();
    scheduler.schedule(() -> call.completeExceptionally(new IllegalStateException("boom")), 1,
        TimeUnit.SECONDS);
    assertThatThrownBy(() -> scheduler.await(call)).isInstanceOf(ExecutionException.class)
        .cause().isInstanceOf(IllegalStateException.class).hasMessage("boom");
  }

  @Test
  void aThrowingTask_stopsTheAdvanceWithItsException_atItsDueTime() {
    long origin = scheduler.nanoTime();
    scheduler.schedule(() -> {
      throw new IllegalStateException("task failed");
    }, 1, TimeUnit.SECONDS);
    scheduler.schedule(() -> ran.add("later"), 2, TimeUnit.SECONDS);
    assertThatThrownBy(() -> scheduler.advance(Duration.ofSeconds(5)))
        .isInstanceOf(IllegalStateException.class).hasMessage("task failed");
    assertThat(scheduler.nanoTime() - origin).isEqualTo(Duration.ofSeconds(1).toNanos());
    assertThat(ran).isEmpty();
  }

  @Test
  void badArguments_areRefusedNamingThem() {
    assertThatThrownBy(() -> scheduler.schedule(() -> { }, -1, TimeUnit.SECONDS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("delay must be >= 0 but was -1 SECONDS");
    assertThatThrownBy(() -> scheduler.advance(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT-1S");
    assertThatThrownBy(() -> new ManualScheduler(null))
        .isInstanceOf(NullPointerException.class).hasMessage("clock");
  }

  @Test
  void requestQueue_waiterTimesOutExactlyAtItsDeadline() {
    RequestQueue<String> queue = RequestQueue.builder().maxConcurrent(1)
        .timeout(Duration.ofSeconds(60)).clock(scheduler.clock()).scheduler(scheduler).build();
    RequestQueue.Permit holder = queue.tryAcquireOrThrow("a", "default");
    CompletableFuture<RequestQueue.Permit> waiter = queue.acquireAsync("b", "default");
    scheduler.advance(Duration.ofSeconds(60).minusNanos(1));
    assertThat(waiter).isNotDone();
    scheduler.advance(Duration.ofNanos(1));
    assertThat(waiter).isCompletedExceptionally();
    assertThat(queue.stats().timedOut()).isEqualTo(1);
    holder.close();
    queue.close();
  }

  @Test
  void concurrentSchedulersAndAdvancer_runEveryTaskExactlyOnce() throws Exception {
    java.util.concurrent.atomic.AtomicInteger runs = new java.util.concurrent.atomic.AtomicInteger();
    Concurrently.run(4, i -> {
      for (int k = 0; k < 1_000; k++) {
        if (i == 0) {
          scheduler.advance(Duration.ofMillis(1));
        } else {
          scheduler.schedule(runs::incrementAndGet, k % 5, TimeUnit.MILLISECONDS);
        }
      }
    });
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(runs.get()).isEqualTo(3_000);
    assertThat(scheduler.pending()).isZero();
  }
}
