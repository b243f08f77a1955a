package dev.sluice.internal;

import dev.sluice.TaskScheduler;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The default {@link TaskScheduler#timer()}: one shared daemon thread. Its executor is created on
 * first use, so a process that never waits never starts the thread. Thread-safe.
 */
public final class SystemTimeoutScheduler implements TaskScheduler {
  /** The shared instance. */
  public static final SystemTimeoutScheduler INSTANCE = new SystemTimeoutScheduler();

  private SystemTimeoutScheduler() {}

  /** Lazy holder: the thread starts only when the first timeout is scheduled. */
  private static final class Holder {
    static final ScheduledThreadPoolExecutor EXECUTOR = create();

    private static ScheduledThreadPoolExecutor create() {
      ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "sluice-timeout");
        t.setDaemon(true);
        return t;
      });
      // Waiters that get a permit cancel their deadline; drop those tasks at once.
      executor.setRemoveOnCancelPolicy(true);
      return executor;
    }
  }

  @Override
  public Future<?> schedule(Runnable task, long delay, TimeUnit unit) {
    return Holder.EXECUTOR.schedule(task, delay, unit);
  }

  @Override
  public String toString() {
    return "TaskScheduler.timer()";
  }
}
