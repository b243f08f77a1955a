package dev.sluice.servlet;

import dev.sluice.TaskScheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** A fake clock and a scheduler on it: due tasks run when the test advances the clock. */
final class ManualTimeouts implements TaskScheduler {
  private long now;
  private final List<long[]> due = new ArrayList<>();
  private final List<Runnable> tasks = new ArrayList<>();

  synchronized long nanoTime() {
    return now;
  }

  @Override
  public synchronized Future<?> schedule(Runnable task, long delay, TimeUnit unit) {
    long[] at = {now + unit.toNanos(delay)};
    due.add(at);
    tasks.add(task);
    return new CompletableFuture<Void>() {
      @Override
      public boolean cancel(boolean mayInterrupt) {
        synchronized (ManualTimeouts.this) {
          at[0] = Long.MAX_VALUE;
        }
        return super.cancel(mayInterrupt);
      }
    };
  }

  void advance(Duration d) {
    List<Runnable> run = new ArrayList<>();
    synchronized (this) {
      now += d.toNanos();
      for (int i = due.size() - 1; i >= 0; i--) {
        if (due.get(i)[0] <= now) {
          run.add(0, tasks.remove(i));
          due.remove(i);
        }
      }
    }
    run.forEach(Runnable::run);
  }
}
