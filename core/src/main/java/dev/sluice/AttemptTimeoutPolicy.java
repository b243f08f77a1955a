package dev.sluice;

import dev.failsafe.Policy;
import dev.failsafe.PolicyConfig;
import dev.failsafe.spi.AsyncExecutionInternal;
import dev.failsafe.spi.ExecutionInternal;
import dev.failsafe.spi.ExecutionResult;
import dev.failsafe.spi.FailsafeFuture;
import dev.failsafe.spi.PolicyExecutor;
import dev.failsafe.spi.Scheduler;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * A per-attempt timeout as a Failsafe policy (through the policy SPI). It follows Failsafe's own
 * {@code TimeoutExecutor}, with two differences: the timer runs on the execution's scheduler
 * (Failsafe's async timeout always uses its global {@code Scheduler.DEFAULT}, so a test could not
 * drive it with virtual time), and the attempt is failed with {@link AttemptTimeoutException} as
 * soon as the timer fires instead of when the abandoned work finally returns, so a caller is
 * released on time even when the work ignores cancellation. Only asynchronous executions are
 * supported, which is all {@link FailsafeOutboundGuard} runs.
 */
final class AttemptTimeoutPolicy implements Policy<Object> {
  private final String service;
  private final Duration timeout;
  private final boolean interrupt;
  private final PolicyConfig<Object> config = new PolicyConfig<Object>() {};

  AttemptTimeoutPolicy(String service, Duration timeout, boolean interrupt) {
    this.service = service;
    this.timeout = timeout;
    this.interrupt = interrupt;
  }

  @Override
  public PolicyConfig<Object> getConfig() {
    return config;
  }

  @Override
  public PolicyExecutor<Object> toExecutor(int policyIndex) {
    return new Executor(policyIndex);
  }

  private final class Executor extends PolicyExecutor<Object> {
    Executor(int policyIndex) {
      super(AttemptTimeoutPolicy.this, policyIndex);
    }

    @Override
    public Function<AsyncExecutionInternal<Object>, CompletableFuture<ExecutionResult<Object>>>
        applyAsync(
            Function<AsyncExecutionInternal<Object>, CompletableFuture<ExecutionResult<Object>>>
                innerFn,
            Scheduler scheduler,
            FailsafeFuture<Object> future) {
      return execution -> {
        AtomicReference<ExecutionResult<Object>> resultRef = new AtomicReference<>();
        AtomicBoolean posted = new AtomicBoolean();
        CompletableFuture<ExecutionResult<Object>> promise = new CompletableFuture<>();
        Future<?> timer = null;
        // Guards against a race with future.complete or future.cancel, as Failsafe does.
        synchronized (future) {
          if (!future.isDone() && !execution.isRecorded()) {
            try {
              timer = scheduler.schedule(() -> {
                ExecutionResult<Object> timedOut = ExecutionResult.exception(
                    new AttemptTimeoutException(service, timeout, null));
                if (resultRef.compareAndSet(null, timedOut)) {
                  synchronized (execution.getLock()) {
                    ExecutionInternal<Object> latest = execution.getLatest();
                    latest.record(timedOut);
                    latest.cancel(this);
                  }
                  // Cancel the abandoned work, then finish the attempt here. Cancelling may
                  // complete the work synchronously; that completion must not finish the attempt
                  // itself, or the retry would schedule its next attempt (and register cancel
                  // functions) in the middle of cancelDependencies.
                  future.cancelDependencies(this, interrupt, timedOut);
                  finish(execution, timedOut, scheduler, future, posted, promise);
                }
                return null;
              }, timeout.toNanos(), TimeUnit.NANOSECONDS);
              Future<?> scheduled = timer;
              future.setCancelFn(this, (mayInterrupt, cancelResult) -> {
                scheduled.cancel(mayInterrupt);
                resultRef.compareAndSet(null, cancelResult);
              });
            } catch (Throwable t) {
              promise.completeExceptionally(t);
              return promise;
            }
          }
        }
        Future<?> scheduled = timer;
        innerFn.apply(execution).whenComplete((result, error) -> {
          if (error != null) {
            promise.completeExceptionally(error);
            return;
          }
          ExecutionResult<Object> outcome = result;
          if (!resultRef.compareAndSet(null, result)) {
            outcome = resultRef.get();
            if (outcome != null && outcome.getException() instanceof AttemptTimeoutException) {
              return; // the timer won and finishes the attempt itself
            }
          }
          if (outcome != null && scheduled != null && !scheduled.isDone()) {
            scheduled.cancel(false);
          }
          finish(execution, outcome, scheduler, future, posted, promise);
        });
        return promise;
      };
    }

    private void finish(AsyncExecutionInternal<Object> execution, ExecutionResult<Object> result,
        Scheduler scheduler, FailsafeFuture<Object> future, AtomicBoolean posted,
        CompletableFuture<ExecutionResult<Object>> promise) {
      if (!posted.compareAndSet(false, true)) {
        return;
      }
      if (result != null) {
        postExecuteAsync(execution, result, scheduler, future);
      }
      promise.complete(result);
    }
  }
}
