package dev.sluice;

import dev.failsafe.Execution;
import dev.failsafe.Failsafe;
import dev.failsafe.FailsafeException;
import dev.failsafe.FailsafeExecutor;
import dev.failsafe.Policy;
import dev.failsafe.RetryPolicyBuilder;
import dev.failsafe.TimeoutExceededException;
import dev.failsafe.spi.Scheduler;
import dev.sluice.internal.AttemptWatchdog;
import dev.sluice.internal.Listeners;
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
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * The {@link OutboundGuard} over Failsafe: {@code Failsafe.with(retry, pacing, breaker, timeout)}
 * run asynchronously on the guard's scheduler. Retry, backoff and jitter are Failsafe's own
 * {@code RetryPolicy}; pacing, the breaker and the timeout are Sluice policies plugged in through
 * Failsafe's policy SPI, because Failsafe's versions read {@code System.nanoTime()} or schedule on
 * a global scheduler and so cannot be driven by an injected clock and scheduler.
 *
 * <p>A synchronous call runs its attempts on the caller's thread instead (unless it has a timeout
 * that must not interrupt, see {@link #call}): a hop to a scheduler thread and back costs tens of
 * microseconds, far more than the guard itself. The retry decisions are still Failsafe's, through
 * its standalone {@link Execution} (record each attempt, ask whether it is complete and for the
 * delay); this class only runs the attempts and waits the delays. Waits park the caller (with
 * {@code parkNanos} on the real-time schedulers, or as a task awaited through
 * {@link TaskScheduler#await} on any other, so a virtual-time scheduler drives them in tests), and
 * the timeout interrupts the caller, from {@link AttemptWatchdog} on the real-time schedulers or
 * from a task on the guard's scheduler otherwise.
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
  /** Whether the scheduler runs on real time, so the caller may park and use the watchdog. */
  private final boolean realTime;
  private final boolean interruptOnTimeout;
  private final long timeoutNanos;
  /** Whether synchronous attempts must time the breaker's calls (a slow-call threshold). */
  private final boolean breakerTimed;
  private final NanoClock clock;
  /** Told of attempts, retries, waits and outcomes; empty costs one volatile read per call. */
  private final Listeners<OutboundGuardListener> listeners;

  FailsafeOutboundGuard(OutboundGuard.Builder b) {
    this.name = b.name;
    this.listeners = new Listeners<>("outbound guard '" + b.name + "'");
    this.retry = b.retry;
    this.breaker = b.breaker;
    this.timeout = b.timeout;
    this.taskScheduler = b.scheduler;
    this.scheduler = SchedulerAdapter.toFailsafe(b.scheduler);
    this.realTime = b.scheduler == SchedulerAdapter.COMMON || b.scheduler == TaskScheduler.timer();
    this.interruptOnTimeout = b.interruptOnTimeout;
    this.timeoutNanos = timeout == null ? 0 : timeout.toNanos();
    this.breakerTimed = breaker != null && (!(breaker instanceof DefaultCircuitBreaker)
        || ((DefaultCircuitBreaker) breaker).timesCalls());
    this.clock = b.clock;
    this.baseRetry = retry.maxAttempts() > 1 ? failsafeRetry(retry) : null;
    this.budget = baseRetry != null && retry.budgetMaxTokens() > 0
        ? new RetryBudget(retry.budgetRatio(), retry.budgetMaxTokens()) : null;
    if (b.pacingPeriod != null) {
      long period = b.pacingPeriod.toNanos();
      long interval = period / b.pacingCalls + (period % b.pacingCalls == 0 ? 0 : 1);
      this.pacer = new Pacer(interval, b.clock);
      this.maxWaitNanos = (b.maxPacingWait == null ? Duration.ofSeconds(5) : b.maxPacingWait)
          .toNanos();
      innerPolicies.add(new PacingPolicy(name, pacer, maxWaitNanos, breaker, this));
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
    RetryPolicyBuilder<Object> rb = dev.failsafe.RetryPolicy.builder(baseRetry.getConfig())
        .abortIf((result, failure) -> abortRetry(failures.incrementAndGet(), result, failure));
    if (listeners.array().length != 0) {
      rb.onRetryScheduled(e -> retrying(
          e.getAttemptCount(), e.getDelay(), translate(e.getLastException())));
    }
    return rb.build();
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
      for (Object l : listeners.array()) {
        try {
          ((OutboundGuardListener) l).onRetryBudgetExhausted();
        } catch (RuntimeException e) {
          listeners.failed(l, "onRetryBudgetExhausted", e);
        }
      }
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
    Object[] ls = listeners.array();
    if (ls.length == 0) {
      return run(work);
    }
    long start = clock.nanoTime();
    T result;
    try {
      result = run(counted(work::call, ls));
    } catch (Throwable t) {
      ended(ls, start, t);
      throw t;
    }
    ended(ls, start, null);
    return result;
  }

  // ---------------------------------------------------------------- listeners

  @Override
  public void addListener(OutboundGuardListener listener) {
    listeners.add(listener);
  }

  /** Wraps one call's work so each run of it is reported as an attempt. */
  private <T> Callable<T> counted(Callable<T> work, Object[] ls) {
    AtomicInteger attempts = new AtomicInteger();
    return () -> {
      int attempt = attempts.incrementAndGet();
      for (Object l : ls) {
        try {
          ((OutboundGuardListener) l).onAttempt(attempt);
        } catch (RuntimeException e) {
          listeners.failed(l, "onAttempt", e);
        }
      }
      return work.call();
    };
  }

  /** Reports a call's end: {@code failure} null for a success. */
  private void ended(Object[] ls, long start, Throwable failure) {
    Duration took = Duration.ofNanos(Math.max(0, clock.nanoTime() - start));
    for (Object l : ls) {
      try {
        if (failure == null) {
          ((OutboundGuardListener) l).onSuccess(took);
        } else {
          ((OutboundGuardListener) l).onFailure(took, failure);
        }
      } catch (RuntimeException e) {
        listeners.failed(l, failure == null ? "onSuccess" : "onFailure", e);
      }
    }
  }

  private void retrying(int attempt, Duration delay, Throwable failure) {
    for (Object l : listeners.array()) {
      try {
        ((OutboundGuardListener) l).onRetry(attempt, delay, failure);
      } catch (RuntimeException e) {
        listeners.failed(l, "onRetry", e);
      }
    }
  }

  /** An attempt waits {@code nanos} for its pacing turn (here or in {@link PacingPolicy}). */
  void pacingWait(long nanos) {
    Object[] ls = listeners.array();
    if (ls.length == 0) {
      return;
    }
    Duration wait = Duration.ofNanos(nanos);
    for (Object l : ls) {
      try {
        ((OutboundGuardListener) l).onPacingWait(wait);
      } catch (RuntimeException e) {
        listeners.failed(l, "onPacingWait", e);
      }
    }
  }

  /** Pacing refused an attempt because the breaker is open, without asking the breaker. */
  void refusedByOpenBreaker() {
    if (breaker instanceof DefaultCircuitBreaker) {
      ((DefaultCircuitBreaker) breaker).notPermitted();
    }
  }

  // ---------------------------------------------------------------- running calls

  private <T> T run(Callable<T> work) throws Exception {
    if (baseRetry == null && pacer == null && timeout == null) {
      // Nothing to wait for or time out: run on the caller's thread, with no hop to the scheduler.
      return breaker == null ? work.call() : breaker.call(work);
    }
    if (timeout == null || interruptOnTimeout) {
      return callHere(work);
    }
    // A timed-out attempt that may not be interrupted must be abandoned, so the caller is
    // released on time: that needs the attempt on another thread.
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

  /**
   * Runs the call's attempts on this thread. Failsafe's standalone execution decides, from each
   * recorded outcome, whether to retry and after what delay, exactly as its asynchronous execution
   * does; the budget and the longest server-told delay are checked here, where the asynchronous
   * path checks them in Failsafe's {@code abortIf}, for failures Failsafe would retry.
   */
  private <T> T callHere(Callable<T> work) throws Exception {
    if (budget != null) {
      budget.deposit();
    }
    Execution<Object> execution = null;
    for (int attempt = 1; ; attempt++) {
      Object result = null;
      Throwable failure = null;
      try {
        result = attempt(work);
      } catch (InterruptedException e) {
        throw e; // the caller was interrupted (not by a timeout): stop, do not retry
      } catch (Throwable t) {
        failure = t;
      }
      if (baseRetry == null || failure == null && !retry.retriesResult(result)) {
        // Nothing to retry (Failsafe's handleIf would say so too): most calls end here, without
        // building an execution, which costs more than the rest of the call.
        return outcome(result, failure);
      }
      if (execution == null) {
        execution = Execution.of(baseRetry);
      }
      execution.record(result, failure);
      if (execution.isComplete() || abortRetry(attempt, result, failure)) {
        return outcome(result, failure);
      }
      if (listeners.array().length != 0) {
        retrying(attempt, execution.getDelay(), translate(failure));
      }
      pause(execution.getDelay().toNanos());
    }
  }

  @SuppressWarnings("unchecked")
  private <T> T outcome(Object result, Throwable failure) throws Exception {
    if (failure == null) {
      return (T) result;
    }
    Throwable cause = translate(failure);
    if (cause instanceof Error) {
      throw (Error) cause;
    }
    throw (Exception) cause;
  }

  /** One attempt: pacing turn, breaker, timeout, in the order of the asynchronous policies. */
  private Object attempt(Callable<?> work) throws Exception {
    if (pacer != null) {
      // As PacingPolicy: an open breaker fails before taking a turn another caller could use.
      if (breaker != null && breaker.state() == CircuitBreaker.State.OPEN) {
        refusedByOpenBreaker();
        throw new CircuitOpenException(breaker.name(), CircuitBreaker.State.OPEN,
            breaker.untilProbe());
      }
      long wait = pacer.reserve(maxWaitNanos);
      if (wait < 0) {
        throw new PacingRejectedException(
            name, Duration.ofNanos(-wait), Duration.ofNanos(maxWaitNanos));
      }
      if (wait > 0) {
        pacingWait(wait);
        pause(wait);
      }
    }
    if (breaker == null) {
      return timed(work);
    }
    breaker.acquirePermission();
    DefaultCircuitBreaker own =
        breaker instanceof DefaultCircuitBreaker ? (DefaultCircuitBreaker) breaker : null;
    boolean timing = breakerTimed || own != null && own.observed();
    long start = timing ? clock.nanoTime() : 0;
    Object result;
    try {
      result = timed(work);
    } catch (Throwable t) {
      Duration took = took(start, timing);
      Throwable cause = translate(t);
      if (breaker.isFailure(cause)) {
        if (own != null) {
          own.recordFailure(took, cause);
        } else {
          breaker.recordFailure(took);
        }
      } else {
        breaker.recordSuccess(took);
      }
      throw t;
    }
    breaker.recordSuccess(took(start, timing));
    return result;
  }

  private Duration took(long start, boolean timing) {
    return timing ? Duration.ofNanos(Math.max(0, clock.nanoTime() - start)) : Duration.ZERO;
  }

  /** Runs the work, interrupting this thread if it overruns the timeout. */
  private Object timed(Callable<?> work) throws Exception {
    if (timeout == null) {
      return work.call();
    }
    AttemptWatchdog.Watch watch = realTime ? AttemptWatchdog.INSTANCE.watch(timeoutNanos) : null;
    if (watch == null) {
      watch = new AttemptWatchdog.Watch(Thread.currentThread());
      AttemptWatchdog.Watch fired = watch;
      TaskScheduler timers = realTime ? TaskScheduler.timer() : taskScheduler;
      watch.timer(timers.schedule(fired::fire, timeoutNanos, TimeUnit.NANOSECONDS));
    }
    Object result = null;
    Throwable thrown = null;
    try {
      result = work.call();
    } catch (Throwable t) {
      thrown = t;
    }
    if (!watch.finish()) {
      throw new AttemptTimeoutException(name, timeout, thrown);
    }
    if (thrown instanceof Error) {
      throw (Error) thrown;
    }
    if (thrown != null) {
      throw (Exception) thrown;
    }
    return result;
  }

  /** Waits on this thread: parked on real time, else as a task awaited on the scheduler. */
  private void pause(long nanos) throws InterruptedException {
    if (nanos <= 0) {
      return;
    }
    if (realTime) {
      long deadline = System.nanoTime() + nanos;
      for (long left = nanos; left > 0; left = deadline - System.nanoTime()) {
        LockSupport.parkNanos(this, left);
        if (Thread.interrupted()) {
          throw new InterruptedException("interrupted while waiting to call '" + name + "'");
        }
      }
      return;
    }
    CompletableFuture<Void> turn = new CompletableFuture<>();
    Future<?> timer = taskScheduler.schedule(() -> turn.complete(null), nanos,
        TimeUnit.NANOSECONDS);
    try {
      taskScheduler.await(turn);
    } catch (InterruptedException e) {
      timer.cancel(false);
      throw e;
    } catch (ExecutionException e) {
      throw new IllegalStateException("a wait cannot fail", e);
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
    Object[] ls = listeners.array();
    long start = ls.length == 0 ? 0 : clock.nanoTime();
    Callable<? extends CompletionStage<T>> attempt =
        ls.length == 0 ? work::get : counted(work::get, ls);
    CompletableFuture<T> inner = executor().getStageAsync(attempt::call);
    CompletableFuture<T> outer = new CompletableFuture<>();
    inner.whenComplete((value, error) -> {
      Throwable failure = error == null ? null : translate(error);
      if (ls.length != 0) {
        ended(ls, start, failure);
      }
      if (error == null) {
        outer.complete(value);
      } else {
        outer.completeExceptionally(failure);
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
