package dev.sluice;

import java.time.Duration;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link TaskScheduler} on a {@link ManualClock}: tasks run, on the caller's thread, when a
 * test advances the clock past their due time. Thread-safe.
 */
final class ManualScheduler implements TaskScheduler {
  private final ManualClock clock;
  private final PriorityQueue<Task> tasks = new PriorityQueue<>();
  private long sequence;

  ManualScheduler(ManualClock clock) {
    this.clock = clock;
  }

  private static final class Task implements Comparable<Task> {
    final long due;
    final long seq;
    final Runnable runnable;
    final AtomicBoolean cancelled = new AtomicBoolean();
    /** Cancelling the handle cancels the task. */
    final CompletableFuture<Void> handle = new CompletableFuture<>() {
      @Override
      public boolean cancel(boolean mayInterrupt) {
        cancelled.set(true);
        return super.cancel(mayInterrupt);
      }
    };

    Task(long due, long seq, Runnable runnable) {
      this.due = due;
      this.seq = seq;
      this.runnable = runnable;
    }

    @Override
    public int compareTo(Task o) {
      int c = Long.compare(due - o.due, 0);
      return c != 0 ? c : Long.compare(seq, o.seq);
    }
  }

  @Override
  public synchronized Future<?> schedule(Runnable task, long delay, TimeUnit unit) {
    Task t = new Task(clock.nanoTime() + unit.toNanos(delay), sequence++, task);
    tasks.add(t);
    return t.handle;
  }

  /** Moves the clock and runs every task now due. */
  void advance(Duration d) {
    clock.advance(d);
    runDue();
  }

  void runDue() {
    while (true) {
      Task t;
      synchronized (this) {
        t = tasks.peek();
        if (t == null || t.due - clock.nanoTime() > 0) {
          return;
        }
        tasks.poll();
      }
      if (!t.cancelled.get()) {
        t.runnable.run();
      }
    }
  }

  /** Tasks scheduled and neither run nor cancelled. */
  synchronized int pending() {
    int n = 0;
    for (Task t : tasks) {
      if (!t.cancelled.get()) {
        n++;
      }
    }
    return n;
  }

  ManualClock clock() {
    return clock;
  }
}
