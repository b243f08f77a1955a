package dev.sluice;

import dev.sluice.internal.SchedulerAdapter;
import dev.sluice.internal.SystemTimeoutScheduler;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs tasks after a delay: where an {@link OutboundGuard} runs attempts, waits out backoff and
 * pacing delays, and fires per-attempt timeouts, and where a {@link RequestQueue} ends a waiter's
 * wait at its deadline. Nothing in Sluice sleeps; every wait is a task scheduled here. Tests pass
 * a scheduler with virtual time that records the delays and runs tasks as a fake clock advances.
 * A task may run after it was cancelled if the cancel raced with it; Sluice's tasks then do
 * nothing harmful.
 *
 * <pre>{@code
 * ScheduledExecutorService pool = Executors.newScheduledThreadPool(8);
 * OutboundGuard guard = OutboundGuard.builder().name("pubmed")
 *     .scheduler(TaskScheduler.of(pool))
 *     .build();
 * }</pre>
 *
 * <p>Implementations must be thread-safe.
 */
@FunctionalInterface
public interface TaskScheduler {

  /**
   * Runs {@code task} once after {@code delay}.
   *
   * @param task the task
   * @param delay the delay, &gt;= 0
   * @param unit the delay's unit
   * @return a future that cancels the task
   */
  Future<?> schedule(Runnable task, long delay, TimeUnit unit);

  /**
   * Blocks a synchronous caller until {@code future} completes. The default waits with
   * {@link CompletableFuture#get()}; a scheduler that runs its tasks on the caller's thread (a test
   * scheduler with virtual time) overrides it to run pending tasks until the future is done.
   *
   * @param <T> the result type
   * @param future the call's future
   * @return the result
   * @throws InterruptedException if the caller is interrupted
   * @throws ExecutionException if the call failed
   */
  default <T> T await(CompletableFuture<T> future)
      throws InterruptedException, ExecutionException {
    return future.get();
  }

  /**
   * Adapts a {@link ScheduledExecutorService}. Blocking calls run on its threads while their
   * callers wait, so size it for the number of concurrent blocking calls.
   *
   * @param executor the executor
   * @return a scheduler over it
   * @throws NullPointerException if {@code executor} is null
   */
  static TaskScheduler of(ScheduledExecutorService executor) {
    Objects.requireNonNull(executor, "executor");
    return executor::schedule;
  }

  /**
   * One shared daemon thread named {@code sluice-timeout}, for short, non-blocking timer tasks
   * such as ending a {@link RequestQueue} waiter's wait. Cancelled tasks are removed at once, so
   * they hold no memory. The default scheduler of {@link RequestQueue}.
   *
   * @return the shared timer
   */
  static TaskScheduler timer() {
    return SystemTimeoutScheduler.INSTANCE;
  }

  /**
   * The shared default: Failsafe's scheduler, which runs tasks on the common
   * {@link java.util.concurrent.ForkJoinPool} and delays them with one shared timer thread.
   *
   * @return the default scheduler
   */
  static TaskScheduler common() {
    return SchedulerAdapter.COMMON;
  }
}
