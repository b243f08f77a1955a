package dev.sluice;

import dev.sluice.internal.SystemTimeoutScheduler;

/**
 * Runs a task once after a delay; Sluice uses it to end waits (a {@link RequestQueue} waiter's
 * deadline) without holding a thread per waiter.
 *
 * <p>The delay is measured on the same {@link NanoClock} as the primitive that schedules it. The
 * default, {@link #system()}, uses one shared daemon thread and the system clock. Tests pass a
 * manual scheduler that runs due tasks when they move their fake clock, so a timeout happens
 * without sleeping:
 *
 * <pre>{@code
 * RequestQueue<String> queue = RequestQueue.builder()
 *     .maxConcurrent(20)
 *     .clock(fakeClock)
 *     .scheduler(manualScheduler)   // fires due tasks when the test advances fakeClock
 *     .build();
 * }</pre>
 *
 * <p>Tasks must be short and must not block: they complete futures. Implementations must be
 * thread-safe; a task may run on any thread, and a cancelled task may still run (it must then do
 * nothing harmful, which Sluice's tasks guarantee).
 */
@FunctionalInterface
public interface TimeoutScheduler {

  /**
   * Schedules {@code task} to run once, {@code delayNanos} from now.
   *
   * @param task the task
   * @param delayNanos the delay in nanoseconds, &gt;= 0
   * @return a handle that cancels the task if it has not run yet; never null
   * @throws java.util.concurrent.RejectedExecutionException if the scheduler cannot accept tasks
   */
  Cancellable schedule(Runnable task, long delayNanos);

  /**
   * The shared default: one daemon thread named {@code sluice-timeout}, the system clock. Cancelled
   * tasks are removed at once, so they hold no memory.
   *
   * @return the shared scheduler
   */
  static TimeoutScheduler system() {
    return SystemTimeoutScheduler.INSTANCE;
  }

  /**
   * A handle on a scheduled task. Thread-safe.
   */
  @FunctionalInterface
  interface Cancellable {
    /** Cancels the task if it has not run yet; does nothing otherwise. Idempotent. */
    void cancel();
  }
}
