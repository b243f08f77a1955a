package dev.sluice;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * Protects calls to one downstream service (for example PubMed): pacing, retry with backoff and a
 * retry budget, a per-attempt timeout and a circuit breaker, in one object per service.
 *
 * <p>Each call runs through these steps, outermost first:
 * <ol>
 *   <li><b>retry</b> ({@link RetryPolicy}): failed attempts are retried with exponential backoff
 *       and jitter, or after the server-told {@code Retry-After}, while attempts and the retry
 *       budget last;
 *   <li><b>pacing</b>: each attempt waits for its turn so the service sees at most
 *       {@code calls} per {@code period}, evenly spaced; an attempt that would wait longer than
 *       the max wait fails with {@link PacingRejectedException}; an open breaker fails it before
 *       it takes a turn;
 *   <li><b>circuit breaker</b>: refuses attempts with {@link CircuitOpenException} while open,
 *       and records each attempt's outcome and duration;
 *   <li><b>timeout</b>: an attempt that takes longer fails with
 *       {@link AttemptTimeoutException} (the pacing wait does not count).
 * </ol>
 * Every step is optional. A caller cancelled while it waits for its pacing turn does not give the
 * turn back (the slot simply passes unused). Retry decisions, backoff and jitter are Failsafe's.
 * An asynchronous call runs as Failsafe policies on the {@link TaskScheduler}; nothing blocks. A
 * synchronous call runs its attempts on the caller's thread, which waits out pacing turns and
 * backoff delays parked (on a scheduler with virtual time, through
 * {@link TaskScheduler#await}); with {@link Builder#interruptOnTimeout(boolean)} its timeout
 * interrupts the caller. A synchronous call with a timeout that must not interrupt runs its
 * attempts on the scheduler instead, so its caller is released when the timeout fires even if the
 * work ignores it.
 *
 * <pre>{@code
 * OutboundGuard pubmed = OutboundGuard.builder()
 *     .name("pubmed")
 *     .pacing(3, Duration.ofSeconds(1))            // 3 req/s, callers wait their turn...
 *     .maxPacingWait(Duration.ofSeconds(10))       // ...up to 10 s
 *     .retry(RetryPolicy.builder().maxAttempts(3).retryOn(IOException.class).build())
 *     .timeout(Duration.ofSeconds(5))
 *     .circuitBreaker(CircuitBreaker.builder().name("pubmed").failureThreshold(5).build())
 *     .build();
 *
 * List<Article> hits = pubmed.call(() -> client.search(query));
 * CompletableFuture<List<Article>> later = pubmed.callAsync(() -> client.searchAsync(query));
 * }</pre>
 *
 * <p><b>Thread safety.</b> Instances are thread-safe; share one per downstream service.
 */
public interface OutboundGuard {

  /**
   * The guarded service's name.
   *
   * @return the name used in exceptions and health reports
   */
  String name();

  /**
   * Calls the service synchronously. Attempts run on this thread, which also waits out pacing
   * turns and backoff delays; only with a timeout and no {@link Builder#interruptOnTimeout(boolean)
   * interrupt} do they run on the scheduler while this thread waits.
   *
   * @param <T> the result type
   * @param work one attempt
   * @return the first successful result, or the last retried result when attempts run out
   * @throws CircuitOpenException if the breaker refused
   * @throws PacingRejectedException if the turn was too far away
   * @throws AttemptTimeoutException if the last attempt timed out
   * @throws InterruptedException if this thread is interrupted while waiting; the call is
   *     cancelled
   * @throws Exception the last attempt's exception when attempts, budget or retryable failures
   *     run out
   */
  <T> T call(Callable<T> work) throws Exception;

  /**
   * Like {@link #call(Callable)} for work that throws no checked exception.
   *
   * @param <T> the result type
   * @param work one attempt
   * @return the result
   * @throws CircuitOpenException if the breaker refused
   * @throws PacingRejectedException if the turn was too far away
   * @throws AttemptTimeoutException if the last attempt timed out
   * @throws SluiceException if this thread is interrupted while waiting (the interrupt flag is
   *     kept)
   * @throws RuntimeException the last attempt's exception
   */
  <T> T get(Supplier<T> work);

  /**
   * Calls the service asynchronously. Nothing blocks: waits are scheduled.
   *
   * @param <T> the result type
   * @param work starts one attempt
   * @return the outcome, failed with the same exceptions {@link #call(Callable)} throws;
   *     cancelling it cancels the call
   */
  <T> CompletableFuture<T> callAsync(Supplier<? extends CompletionStage<T>> work);

  /**
   * Adds a listener, told of every later attempt, retry, pacing wait and call outcome, after those
   * already added. See {@link OutboundGuardListener} for threading and order. Every guard Sluice
   * builds supports it.
   *
   * <p>The default throws, for implementations outside Sluice written before listeners existed.
   *
   * @param listener the listener
   * @throws NullPointerException if {@code listener} is null
   * @throws UnsupportedOperationException if this implementation has no listeners (never for
   *     Sluice's own)
   */
  default void addListener(OutboundGuardListener listener) {
    Objects.requireNonNull(listener, "listener");
    throw new UnsupportedOperationException(getClass().getName() + " does not support listeners");
  }

  /**
   * The breaker, if one was configured.
   *
   * @return the breaker
   */
  Optional<CircuitBreaker> circuitBreaker();

  /**
   * The retry configuration.
   *
   * @return the retry policy ({@link RetryPolicy#none()} when not configured)
   */
  RetryPolicy retryPolicy();

  /**
   * The tokens left in the retry budget.
   *
   * @return tokens, or {@link Double#POSITIVE_INFINITY} when there is no budget
   */
  double retryBudgetTokens();

  /**
   * Retries refused because the budget was empty, since the guard was built.
   *
   * @return the count
   */
  long retriesDeniedByBudget();

  /**
   * How long a caller arriving now would wait for its pacing turn.
   *
   * @return the backlog, zero without pacing
   */
  Duration pacingBacklog();

  /**
   * The longest pacing wait a caller accepts.
   *
   * @return the max wait, zero without pacing
   */
  Duration maxPacingWait();

  /**
   * Starts a builder.
   *
   * @return a builder with defaults: name {@code "default"}, no pacing, no retry, no timeout, no
   *     breaker, the system clock, {@link TaskScheduler#common()}
   */
  static Builder builder() {
    return new Builder();
  }

  /**
   * Builds {@link OutboundGuard}s. Setters validate at once; {@link #build()} checks the
   * combination.
   *
   * <p>Not thread-safe.
   */
  final class Builder {
    String name = "default";
    int pacingCalls;
    Duration pacingPeriod;
    Duration maxPacingWait;
    RetryPolicy retry = RetryPolicy.none();
    Duration timeout;
    boolean interruptOnTimeout;
    CircuitBreaker breaker;
    NanoClock clock = NanoClock.system();
    TaskScheduler scheduler = TaskScheduler.common();
    final List<OutboundGuardListener> listeners = new ArrayList<>();

    Builder() {}

    /**
     * Adds a listener to every guard this builder builds, as
     * {@link OutboundGuard#addListener(OutboundGuardListener)} would.
     *
     * @param listener the listener
     * @return this builder
     * @throws NullPointerException if {@code listener} is null
     */
    public Builder listener(OutboundGuardListener listener) {
      listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    /**
     * Names the guarded service.
     *
     * @param name a non-blank name
     * @return this builder
     * @throws IllegalArgumentException if {@code name} is null or blank
     */
    public Builder name(String name) {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("name must be non-blank but was " + name);
      }
      this.name = name;
      return this;
    }

    /**
     * Paces attempts to {@code calls} per {@code period}, evenly spaced (the spacing is
     * {@code period / calls}, rounded up to a whole nanosecond so the rate is never exceeded).
     *
     * @param calls attempts per period, &gt;= 1
     * @param period the period, &gt; 0
     * @return this builder
     * @throws IllegalArgumentException if {@code calls} &lt; 1 or {@code period} is not positive
     */
    public Builder pacing(int calls, Duration period) {
      if (calls < 1) {
        throw new IllegalArgumentException("pacing calls must be >= 1 but was " + calls);
      }
      this.pacingPeriod = CircuitBreaker.Builder.requirePositive("pacing period", period);
      this.pacingCalls = calls;
      return this;
    }

    /**
     * The longest a caller waits for its pacing turn (default 5 s once pacing is set).
     *
     * @param maxWait the max wait, &gt;= 0
     * @return this builder
     * @throws IllegalArgumentException if {@code maxWait} is null or negative
     */
    public Builder maxPacingWait(Duration maxWait) {
      if (maxWait == null || maxWait.isNegative()) {
        throw new IllegalArgumentException("maxPacingWait must be >= 0 but was " + maxWait);
      }
      this.maxPacingWait = maxWait;
      return this;
    }

    /**
     * Sets how attempts are retried.
     *
     * @param retry the policy
     * @return this builder
     * @throws NullPointerException if {@code retry} is null
     */
    public Builder retry(RetryPolicy retry) {
      this.retry = Objects.requireNonNull(retry, "retry");
      return this;
    }

    /**
     * Fails an attempt that takes longer than {@code timeout}.
     *
     * @param timeout the per-attempt timeout, &gt; 0
     * @return this builder
     * @throws IllegalArgumentException if {@code timeout} is not positive
     */
    public Builder timeout(Duration timeout) {
      this.timeout = CircuitBreaker.Builder.requirePositive("timeout", timeout);
      return this;
    }

    /**
     * Whether a timed-out synchronous attempt's thread is interrupted. With true, synchronous
     * attempts run on the caller's thread and a timeout interrupts it (the interrupt is cleared
     * before the call returns or retries); the work should stop when interrupted. With false (the
     * default), synchronous attempts run on the scheduler and a timed-out one is abandoned, its
     * result ignored, so the caller is released on time even when the work cannot be stopped.
     *
     * @param interrupt whether to interrupt
     * @return this builder
     */
    public Builder interruptOnTimeout(boolean interrupt) {
      this.interruptOnTimeout = interrupt;
      return this;
    }

    /**
     * Puts a breaker around each attempt. A breaker may be shared by several guards.
     *
     * @param breaker the breaker
     * @return this builder
     * @throws NullPointerException if {@code breaker} is null
     */
    public Builder circuitBreaker(CircuitBreaker breaker) {
      this.breaker = Objects.requireNonNull(breaker, "breaker");
      return this;
    }

    /**
     * Sets the clock used for pacing and attempt durations.
     *
     * @param clock a monotonic clock
     * @return this builder
     * @throws NullPointerException if {@code clock} is null
     */
    public Builder clock(NanoClock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Sets where attempts, delays and timeouts run.
     *
     * @param scheduler the scheduler
     * @return this builder
     * @throws NullPointerException if {@code scheduler} is null
     */
    public Builder scheduler(TaskScheduler scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    /**
     * Builds the guard.
     *
     * @return a new guard
     * @throws IllegalStateException if a max pacing wait or interrupt-on-timeout is set without
     *     pacing or a timeout
     */
    public OutboundGuard build() {
      if (maxPacingWait != null && pacingPeriod == null) {
        throw new IllegalStateException("maxPacingWait needs pacing(calls, period)");
      }
      if (interruptOnTimeout && timeout == null) {
        throw new IllegalStateException("interruptOnTimeout needs timeout(duration)");
      }
      OutboundGuard guard = new FailsafeOutboundGuard(this);
      for (OutboundGuardListener l : listeners) {
        guard.addListener(l);
      }
      return guard;
    }
  }
}
