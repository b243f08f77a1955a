package dev.sluice.internal;

import dev.failsafe.spi.DefaultScheduledFuture;
import dev.failsafe.spi.Scheduler;
import dev.sluice.TaskScheduler;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Bridges Sluice's {@link TaskScheduler} and Failsafe's {@link Scheduler} SPI. */
public final class SchedulerAdapter {
  /** The default scheduler: Failsafe's own, used directly. */
  public static final TaskScheduler COMMON = new Common();

  private SchedulerAdapter() {}

  /**
   * Gives Failsafe a view of a Sluice scheduler.
   *
   * @param scheduler the Sluice scheduler
   * @return a Failsafe scheduler running tasks through it
   */
  public static Scheduler toFailsafe(TaskScheduler scheduler) {
    if (scheduler instanceof Common) {
      return Scheduler.DEFAULT;
    }
    return (callable, delay, unit) -> new Adapted(scheduler.schedule(() -> {
      try {
        callable.call();
      } catch (RuntimeException | Error e) {
        throw e;
      } catch (Exception e) {
        throw new CompletionException(e);
      }
    }, delay, unit));
  }

  private static final class Common implements TaskScheduler {
    @Override
    public Future<?> schedule(Runnable task, long delay, TimeUnit unit) {
      return Scheduler.DEFAULT.schedule(() -> {
        task.run();
        return null;
      }, delay, unit);
    }

    @Override
    public String toString() {
      return "TaskScheduler.common()";
    }
  }

  /** Failsafe wants a {@link ScheduledFuture}; it only cancels and polls it. */
  private static final class Adapted extends DefaultScheduledFuture<Object> {
    private final Future<?> delegate;

    Adapted(Future<?> delegate) {
      this.delegate = delegate;
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      return delegate.cancel(mayInterruptIfRunning);
    }

    @Override
    public boolean isCancelled() {
      return delegate.isCancelled();
    }

    @Override
    public boolean isDone() {
      return delegate.isDone();
    }

    @Override
    public Object get() throws InterruptedException, ExecutionException {
      return delegate.get();
    }

    @Override
    public Object get(long timeout, TimeUnit unit)
        throws InterruptedException, ExecutionException, TimeoutException {
      return delegate.get(timeout, unit);
    }
  }
}
