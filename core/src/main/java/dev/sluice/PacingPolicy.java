package dev.sluice;

import dev.failsafe.Policy;
import dev.failsafe.PolicyConfig;
import dev.failsafe.spi.ExecutionResult;
import dev.failsafe.spi.FailsafeFuture;
import dev.failsafe.spi.PolicyExecutor;
import dev.failsafe.spi.Scheduler;
import dev.sluice.internal.Pacer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Pacing as a Failsafe policy (through the policy SPI): each attempt reserves the next free slot
 * of a {@link Pacer} and waits for it with a task on the execution's {@link Scheduler}, the same
 * way Failsafe's own rate limiter waits in async executions. Failsafe's rate limiter is not used
 * because it reads {@code System.nanoTime()} and cannot take an injected clock. Only asynchronous
 * executions are supported, which is all {@link FailsafeOutboundGuard} runs.
 */
final class PacingPolicy implements Policy<Object> {
  private final String service;
  private final Pacer pacer;
  private final long maxWaitNanos;
  private final CircuitBreaker breaker;
  /** Told of each wait for a turn and of each refusal by an open breaker. */
  private final FailsafeOutboundGuard guard;
  private final PolicyConfig<Object> config = new PolicyConfig<Object>() {};

  PacingPolicy(String service, Pacer pacer, long maxWaitNanos, CircuitBreaker breaker,
      FailsafeOutboundGuard guard) {
    this.guard = guard;
    this.service = service;
    this.pacer = pacer;
    this.maxWaitNanos = maxWaitNanos;
    this.breaker = breaker;
  }

  @Override
  public PolicyConfig<Object> getConfig() {
    return config;
  }

  @Override
  public PolicyExecutor<Object> toExecutor(int policyIndex) {
    return new PolicyExecutor<Object>(this, policyIndex) {
      @Override
      protected CompletableFuture<ExecutionResult<Object>> preExecuteAsync(
          Scheduler scheduler, FailsafeFuture<Object> future) {
        // An open breaker would refuse the attempt anyway: fail now rather than after a wait,
        // and without using up a turn that another caller could have had.
        if (breaker != null && breaker.state() == CircuitBreaker.State.OPEN) {
          guard.refusedByOpenBreaker();
          return CompletableFuture.completedFuture(ExecutionResult.exception(
              new CircuitOpenException(
                  breaker.name(), CircuitBreaker.State.OPEN, breaker.untilProbe())));
        }
        long wait = pacer.reserve(maxWaitNanos);
        if (wait < 0) {
          return CompletableFuture.completedFuture(ExecutionResult.exception(
              new PacingRejectedException(
                  service, Duration.ofNanos(-wait), Duration.ofNanos(maxWaitNanos))));
        }
        if (wait == 0) {
          return null;
        }
        guard.pacingWait(wait);
        CompletableFuture<ExecutionResult<Object>> turn = new CompletableFuture<>();
        Future<?> timer = scheduler.schedule(
            () -> turn.complete(ExecutionResult.none()), wait, TimeUnit.NANOSECONDS);
        future.setCancelFn(this, (mayInterrupt, cancelResult) -> {
          timer.cancel(false);
          turn.complete(cancelResult);
        });
        return turn;
      }
    };
  }
}
