package dev.sluice;

import dev.failsafe.ExecutionContext;
import dev.failsafe.Policy;
import dev.failsafe.PolicyConfig;
import dev.failsafe.spi.ExecutionResult;
import dev.failsafe.spi.PolicyExecutor;
import java.time.Duration;
import java.util.function.UnaryOperator;

/**
 * Plugs a Sluice {@link CircuitBreaker} into a Failsafe execution through Failsafe's policy SPI, in
 * place of Failsafe's own breaker (which times its open state with {@code System.nanoTime()}; see
 * {@link DefaultCircuitBreaker}). Each attempt asks permission before it runs and reports its
 * outcome and duration, read from the {@link NanoClock}, when it ends. A Sluice breaker without a
 * slow-call threshold has no use for the duration, so the clock is then not read at all.
 */
final class BreakerPolicy implements Policy<Object> {
  private final CircuitBreaker breaker;
  private final NanoClock clock;
  private final UnaryOperator<Throwable> translate;
  /** The breaker when it is Sluice's own, whose listeners want durations and exceptions. */
  private final DefaultCircuitBreaker observable;
  private final PolicyConfig<Object> config = new PolicyConfig<Object>() {};

  BreakerPolicy(CircuitBreaker breaker, NanoClock clock, UnaryOperator<Throwable> translate) {
    this.breaker = breaker;
    this.clock = clock;
    this.translate = translate;
    this.observable =
        breaker instanceof DefaultCircuitBreaker ? (DefaultCircuitBreaker) breaker : null;
  }

  /**
   * Asked per attempt: a reconfigured breaker may gain or lose its slow-call threshold, and
   * listeners may come and go.
   */
  private boolean timed() {
    return observable == null || observable.timesCalls() || observable.observed();
  }

  @Override
  public PolicyConfig<Object> getConfig() {
    return config;
  }

  @Override
  public PolicyExecutor<Object> toExecutor(int policyIndex) {
    return new Executor(policyIndex);
  }

  /** One per execution; its attempts run one after another. */
  private final class Executor extends PolicyExecutor<Object> {
    private volatile long start;
    /** Whether this attempt read the clock at its start. */
    private volatile boolean timing;

    Executor(int policyIndex) {
      super(BreakerPolicy.this, policyIndex);
    }

    @Override
    protected ExecutionResult<Object> preExecute() {
      try {
        breaker.acquirePermission();
      } catch (CircuitOpenException refused) {
        return ExecutionResult.exception(refused);
      }
      timing = timed();
      if (timing) {
        start = clock.nanoTime();
      }
      return null;
    }

    @Override
    protected boolean isFailure(ExecutionResult<Object> result) {
      if (result.isNonResult() || result.getException() == null) {
        return false;
      }
      return breaker.isFailure(translate.apply(result.getException()));
    }

    @Override
    protected void onSuccess(ExecutionResult<Object> result) {
      breaker.recordSuccess(elapsed());
    }

    @Override
    protected ExecutionResult<Object> onFailure(
        ExecutionContext<Object> context, ExecutionResult<Object> result) {
      if (observable != null) {
        observable.recordFailure(elapsed(), translate.apply(result.getException()));
      } else {
        breaker.recordFailure(elapsed());
      }
      return result;
    }

    private Duration elapsed() {
      return timing ? Duration.ofNanos(Math.max(0, clock.nanoTime() - start)) : Duration.ZERO;
    }
  }
}
