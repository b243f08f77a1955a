package dev.sluice;

import dev.failsafe.Failsafe;
import dev.failsafe.FailsafeException;
import dev.failsafe.FailsafeExecutor;
import dev.failsafe.Policy;
import dev.failsafe.RetryPolicyBuilder;
import dev.failsafe.TimeoutExceededException;
import dev.failsafe.spi.Scheduler;
import dev.sluice.internal.Pacer;
import dev.sluice.internal.RetryBudget;
import dev.sluice.internal.SchedulerAdapter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * The {@link OutboundGuard} over Failsafe: {@code Failsafe.with(retry, pacing, breaker, timeout)}
 * run asynchronously on the guard's scheduler. Retry, backoff and jitter are Failsafe's own
 * {@code RetryPolicy}; pacing, the breaker and the timeout are Sluice policies plugged in through
 * Failsafe's policy SPI, because Failsafe's versions read {@code System.nanoTime()} or schedule on
 * a global scheduler and so cannot be driven by an injected clock and scheduler.
 */
final class FailsafeOutboundGuard implements OutboundGuard {
  /** Failsafe's delay functions signal "use the backoff" with a negative delay (null fails). */
  private static final Duration NO_COMPUTED_DELAY = Duration.ofNanos(-1);

  private final String name;
  private final RetryPolicy retry;
  /** Failsafe's retry policy without the per-call budget check; null when there are no retries. */
  private final dev.failsafe.RetryPolicy<Object> baseRetry;
  private final RetryBudget budget;
  private final LongAdder denied = new LongAdder();
  private final Pacer pacer;
  private final long maxWaitNanos;
  private final CircuitBreaker breaker;
  private final Duration timeout;
  private final List<Policy<Object>> innerPolicies = new ArrayList<>();
  private final TaskScheduler taskScheduler;
  private final Scheduler scheduler;

  FailsafeOutboundGuard(OutboundGuard.Builder b) {
    this.name = b.name;
    this.retry = b.retry;
    this.breaker = b.breaker;
    this.timeout = b.timeout;
    this.taskScheduler = b.scheduler;
    this.scheduler = SchedulerAdapter.toFailsafe(b.scheduler);
    this.baseRetry = retry.maxAttempts() > 1 ? failsafeRetry(retry) : null;
    this.budget = baseRetry != null && retry.budgetMaxTokens() > 0
        ? new RetryBudget(retry.budgetRatio(), retry.budgetMaxTokens()) : null;
    if (b.pacingPeriod != null) {
      long period = b.pacingPeriod.toNanos();
      long interval = period / b.pacingCalls + (period % b.pacingCalls == 0 ? 0 : 1);
      this.pacer = new Pacer(interval, b.clock);
      this.maxWaitNanos = (b.maxPacingWait == null ? Duration.ofSeconds(5) : b.maxPacingWait)
          .toNanos();
      innerPolicies.add(new PacingPolicy(name, pacer, maxWaitNanos, breaker));
    } else {
      this.pacer = null;
      this.maxWaitNanos = 0;
    }
    if (breaker != null) {
      innerPolicies.add(new BreakerPolicy(breaker, b.clock, this::translate));
    }
    if (timeout != null) {
      innerPolicies.add(new AttemptTimeoutPolicy(name, timeout, b.interruptOnTimeout));
    }
  }

  private dev.failsafe.RetryPolicy<Object> failsafeRetry(RetryPolicy r) {
    RetryPolicyBuilder<Object> rb = dev.failsafe.RetryPolicy.builder();
    rb.withMaxAttempts(r.maxAttempts());
    if (r.factor() > 1 && r.initialDelay().compareTo(r.maxDelay()) < 0) {
      rb.withBackoff(r.initialDelay(), r.maxDelay(), r.factor());
    } else {
      rb.withDelay(r.initialDelay());
    }
    if (r.jitter() > 0) {
      rb.withJitter(r.jitter());
    }
    rb.handleIf((result, failure) -> failure != null
        ? r.retries(translate(failure)) : r.retriesResult(result));
    rb.withDelayFn(context -> {
      Duration told = r.serverDelay(context.getLastResult(), translate(context.getLastException()));
      if (told == null) {
        return NO_COMPUTED_DELAY;
      }
      // Failsafe applies jitter to computed delays too: stretch the told delay so that even the
      // shortest jittered wait is no shorter than what the server asked for.
      double shortest = 1 - r.jitter();
      return Duration.ofNanos((long) Math.ceil(told.toNanos() / shortest));
    });
    return rb.build();
  }

  /** Failsafe's retry policy for one call: the shared one plus this call's budget check. */
  private dev.failsafe.RetryPolicy<Object> perCallRetry() {
    AtomicInteger failures = new AtomicInteger();
    return dev.failsafe.RetryPolicy.builder(baseRetry.getConfig())
        .abortIf((result, failure) -> abortRetry(failures.incrementAndGet(), result, failure))
        .build();
  }

  /**
   * Decides, for the {@code failures}-th failed attempt of a call (Failsafe asks exactly once per
   * failed attempt, and only for failures it would retry), whether to stop retrying. Budget
   * tokens are spent only when a retry will really follow.
   */
  private boolean abortRetry(int failures, Object result, Throwable failure) {
    if (failures >= retry.maxAttempts()) {
      return false;
    }
    Duration told = retry.serverDelay(result, translate(failure));
    if (told != null && told.compareTo(retry.maxRetryAfter()) > 0) {
      return true;
    }
    if (budget != null && !budget.tryWithdraw()) {
      denied.increment();
      return true;
    }
    return false;
  }

  private FailsafeExecutor<Object> executor() {
    if (budget != null) {
      budget.deposit();
    }
    List<Policy<Object>> policies = new ArrayList<>(innerPolicies.size() + 1);
    if (baseRetry != null) {
      policies.add(perCallRetry());
    }
    policies.addAll(innerPolicies);
    FailsafeExecutor<Object> executor =
        policies.isEmpty() ? Failsafe.none() : Failsafe.with(policies);
    return executor.with(scheduler);
  }

  /** Shows Failsafe's own exceptions to users as Sluice's. */
  Throwable translate(Throwable t) {
    if (t == null) {
      return null;
    }
    Throwable x = t;
    while ((x instanceof CompletionException || x.getClass() == FailsafeException.class
        || x instanceof ExecutionException) && x.getCause() != null) {
      x = x.getCause();
    }
    if (x instanceof TimeoutExceededException) {
      return new AttemptTimeoutException(name, timeout, x);
    }
    return x;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public <T> T call(Callable<T> work) throws Exception {
    Objects.requireNonNull(work, "work");
    if (baseRetry == null && pacer == null && timeout == null) {
      // Nothing to wait for or time out: run on the caller's thread, with no hop to the scheduler.
      return breaker == null ? work.call() : breaker.call(work);
    }
    CompletableFuture<T> future = executor().getAsync(work::call);
    try {
      return taskScheduler.await(future);
    } catch (ExecutionException e) {
      Throwable cause = translate(e.getCause());
      if (cause instanceof Error) {
        throw (Error) cause;
      }
      throw (Exception) cause;
    } catch (InterruptedException e) {
      future.cancel(true);
      throw e;
    }
  }

  @Override
  public <T> T get(Supplier<T> work) {
    Objects.requireNonNull(work, "work");
    try {
      return call(work::get);
    } catch (RuntimeException e) {
      throw e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SluiceException("interrupted while calling '" + name + "'", e);
    } catch (Exception e) {
      throw new CompletionException(e);
    }
  }

  @Override
  public <T> CompletableFuture<T> callAsync(Supplier<? extends CompletionStage<T>> work) {
    Objects.requireNonNull(work, "work");
    CompletableFuture<T> inner = executor().getStageAsync(work::get);
    CompletableFuture<T> outer = new CompletableFuture<>();
    inner.whenComplete((value, error) -> {
      if (error == null) {
        outer.complete(value);
      } else {
        outer.completeExceptionally(translate(error));
      }
    });
    outer.whenComplete((value, error) -> {
      if (error instanceof CancellationException) {
        inner.cancel(true);
      }
    });
    return outer;
  }

  @Override
  public Optional<CircuitBreaker> circuitBreaker() {
    return Optional.ofNullable(breaker);
  }

  @Override
  public RetryPolicy retryPolicy() {
    return retry;
  }

  @Override
  public double retryBudgetTokens() {
    return budget == null ? Double.POSITIVE_INFINITY : budget.tokens();
  }

  @Override
  public long retriesDeniedByBudget() {
    return denied.sum();
  }

  @Override
  public Duration pacingBacklog() {
    return pacer == null ? Duration.ZERO : Duration.ofNanos(pacer.backlogNanos());
  }

  @Override
  public Duration maxPacingWait() {
    return Duration.ofNanos(maxWaitNanos);
  }

  @Override
  public String toString() {
    return "OutboundGuard[" + name + "]";
  }
}
