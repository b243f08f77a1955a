package dev.sluice.testing;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Bounded waits for what a test cannot be told about directly: a condition another thread, a
 * container or a server reaches on its own (a queue that now holds a waiter, a Redis cluster that
 * says it is ok). Use an injected clock for time that must pass; use this only to wait for work
 * happening elsewhere, and always with a bound. Checks back off from 1 ms to 50 ms.
 *
 * <pre>{@code
 * Await.until(() -> queue.stats().queued() == 1, Duration.ofSeconds(10), "a waiter in the queue");
 * }</pre>
 *
 * <p>Thread-safe (stateless).
 */
public final class Await {
  private static final long MAX_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  private Await() {}

  /**
   * Waits until {@code condition} holds.
   *
   * @param condition what to wait for
   * @param timeout the longest wait
   * @param what the condition in words, for the failure message
   * @throws AssertionError if the condition does not hold within {@code timeout}
   * @throws InterruptedException if the waiting thread is interrupted
   */
  public static void until(BooleanSupplier condition, Duration timeout, String what)
      throws InterruptedException {
    Objects.requireNonNull(condition, "condition");
    result(() -> {
      if (!condition.getAsBoolean()) {
        throw new IllegalStateException("not yet");
      }
      return Boolean.TRUE;
    }, timeout, what);
  }

  /**
   * Calls {@code attempt} until it returns instead of throwing, and returns its result.
   *
   * @param <T> the result type
   * @param attempt the call, retried while it throws
   * @param timeout the longest wait
   * @param what the awaited outcome in words, for the failure message
   * @return the first result
   * @throws AssertionError if no attempt succeeds within {@code timeout}; the last failure is its
   *     cause
   * @throws InterruptedException if the waiting thread is interrupted
   */
  public static <T> T result(Callable<T> attempt, Duration timeout, String what)
      throws InterruptedException {
    Objects.requireNonNull(attempt, "attempt");
    long deadline = System.nanoTime() + timeout.toNanos();
    long pause = TimeUnit.MILLISECONDS.toNanos(1);
    while (true) {
      Exception last;
      try {
        return attempt.call();
      } catch (Exception e) {
        last = e;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out after " + timeout + " waiting for " + what, last);
      }
      LockSupport.parkNanos(pause);
      if (Thread.interrupted()) {
        throw new InterruptedException("interrupted waiting for " + what);
      }
      pause = Math.min(MAX_PAUSE_NANOS, pause * 2);
    }
  }
}
