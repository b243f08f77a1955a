package dev.sluice.servlet;

import dev.sluice.TimeoutScheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A fake clock and a scheduler on it: due tasks run when the test advances the clock. */
final class ManualTimeouts implements TimeoutScheduler {
  private long now;
  private final List<long[]> due = new ArrayList<>();
  private final List<Runnable> tasks = new ArrayList<>();

  synchronized long nanoTime() {
    return now;
  }

  @Override
  public synchronized Cancellable schedule(Runnable task, long delayNanos) {
    long[] at = {now + delayNanos};
    due.add(at);
    tasks.add(task);
    return () -> {
      synchronized (this) {
        at[0] = Long.MAX_VALUE;
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
