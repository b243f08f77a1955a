package dev.sluice;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * A circuit breaker for one downstream service: after enough failures it <em>opens</em> and fails
 * calls fast with {@link CircuitOpenException} instead of piling more load on a service that is
 * down; after {@link Builder#openDuration(Duration)} it turns <em>half-open</em> and lets a few
 * probe calls through; if they all succeed it <em>closes</em> again, if one fails it opens again.
 *
 * <p>It opens when either trigger fires while closed:
 * <ul>
 *   <li>{@link Builder#failureThreshold(int)} consecutive failures (default 5, as in the original
 *       system);
 *   <li>optionally, a failure rate of at least {@link Builder#failureRateThreshold(double, int,
 *       Duration)} over a sliding time window, once the window holds a minimum number of calls.
 * </ul>
 * A call counts as a failure when it throws an exception accepted by
 * {@link Builder#recordFailureIf(Predicate)} (default: every exception), or when it succeeds but
 * takes at least {@link Builder#slowCallThreshold(Duration)}, if set. Other exceptions count as
 * successes.
 *
 * <pre>{@code
 * CircuitBreaker pubmed = CircuitBreaker.builder()
 *     .name("pubmed")
 *     .failureThreshold(5)
 *     .openDuration(Duration.ofSeconds(30))
 *     .build();
 * pubmed.onStateChange((name, from, to) -> log.warn("{}: {} -> {}", name, from, to));
 * Article a = pubmed.call(() -> client.fetch(id));   // CircuitOpenException when open
 * }</pre>
 *
 * <p>A probe that never reports its outcome (its caller was cancelled) gives its slot back after
 * one more open duration, so a lost probe cannot keep the breaker half-open forever.
 *
 * <p>It can be used alone (as above, or with {@link #tryAcquirePermission()} and the
 * {@code record} methods) or inside an {@link OutboundGuard}. Time comes from an injected
 * {@link NanoClock}; the open duration is measured with it, never with the wall clock.
 *
 * <p><b>Thread safety.</b> Instances are thread-safe. Listeners run after the breaker's lock is
 * released, transitions one at a time in the order they were made (see
 * {@link CircuitBreakerListener}).
 */
public interface CircuitBreaker {

  /** The states of a breaker. */
  enum State {
    /** Calls flow; failures are counted. */
    CLOSED,
    /** Calls fail fast until the open duration has passed. */
    OPEN,
    /** A limited number of probe calls decide whether to close or open again. */
    HALF_OPEN
  }

  /**
   * Observes state transitions; a shorthand for
   * {@link CircuitBreakerListener#onStateTransition}, with the same threading and order.
   */
  @FunctionalInterface
  interface StateListener {
    /**
     * Called once per transition.
     *
     * @param breaker the breaker's name
     * @param from the state before
     * @param to the state after
     */
    void onStateChange(String breaker, State from, State to);
  }

  /**
   * The breaker's name.
   *
   * @return the name used in exceptions, logs and health reports
   */
  String name();

  /**
   * The current state. An open breaker whose open duration has passed reads as
   * {@link State#HALF_OPEN}.
   *
   * @return the state
   */
  State state();

  /**
   * How long until a probe call is allowed.
   *
   * @return zero unless the breaker is open; otherwise the rest of the open duration
   */
  Duration untilProbe();

  /**
   * Asks to make one call. When allowed, the caller must report the outcome with
   * {@link #recordSuccess(Duration)} or {@link #recordFailure(Duration)}.
   *
   * @return whether the call may proceed
   */
  boolean tryAcquirePermission();

  /**
   * Asks to make one call and throws when refused. When allowed, the caller must report the
   * outcome with {@link #recordSuccess(Duration)} or {@link #recordFailure(Duration)}.
   *
   * @throws CircuitOpenException if the breaker refuses
   */
  void acquirePermission();

  /**
   * Reports a call that succeeded; one slower than the slow-call threshold counts as a failure.
   *
   * @param duration how long the call took
   * @throws NullPointerException if {@code duration} is null
   */
  void recordSuccess(Duration duration);

  /**
   * Reports a call that failed.
   *
   * @param duration how long the call took
   * @throws NullPointerException if {@code duration} is null
   */
  void recordFailure(Duration duration);

  /**
   * Whether an exception counts as a failure for this breaker.
   *
   * @param failure the exception a call threw
   * @return whether it is recorded as a failure (otherwise as a success)
   */
  boolean isFailure(Throwable failure);

  /**
   * Runs a call through the breaker: asks permission, runs it, records the outcome.
   *
   * @param <T> the result type
   * @param work the call
   * @return the call's result
   * @throws CircuitOpenException if the breaker refuses; {@code work} is not run
   * @throws Exception whatever {@code work} throws
   */
  <T> T call(Callable<T> work) throws Exception;

  /**
   * Runs an asynchronous call through the breaker; the outcome is recorded when the stage
   * completes.
   *
   * @param <T> the result type
   * @param work starts the call
   * @return the call's future, failed with {@link CircuitOpenException} if the breaker refuses
   */
  <T> CompletableFuture<T> callAsync(Supplier<? extends CompletionStage<T>> work);

  /**
   * Adds a listener for state transitions, as a {@link CircuitBreakerListener} that only
   * implements {@link CircuitBreakerListener#onStateTransition}.
   *
   * @param listener the listener
   * @throws NullPointerException if {@code listener} is null
   */
  void onStateChange(StateListener listener);

  /**
   * Adds a listener, told of every later state transition and recorded outcome, after those
   * already added. See {@link CircuitBreakerListener} for threading and order. Every breaker
   * Sluice builds supports it.
   *
   * <p>The default throws, for implementations outside Sluice written before listeners existed.
   *
   * @param listener the listener
   * @throws NullPointerException if {@code listener} is null
   * @throws UnsupportedOperationException if this implementation has no listeners (never for
   *     Sluice's own)
   */
  default void addListener(CircuitBreakerListener listener) {
    Objects.requireNonNull(listener, "listener");
    throw new UnsupportedOperationException(getClass().getName() + " does not support listeners");
  }

  /** Closes the breaker and forgets all counts, as after a manual recovery. */
  void reset();

  /**
   * Consecutive failures counted while closed.
   *
   * @return the count, reset by any success
   */
  int consecutiveFailures();

  /**
   * The failure rate over the sliding window (see
   * {@link Builder#failureRateThreshold(double, int, Duration)}; one minute when not set).
   *
   * @return failures divided by calls, 0 when there were no calls
   */
  double failureRate();

  /**
   * The thresholds and durations in force now.
   *
   * <p>The default throws {@link UnsupportedOperationException}.
   *
   * @return the current settings, never null
   * @throws UnsupportedOperationException if this breaker cannot report them
   */
  default Settings settings() {
    throw new UnsupportedOperationException("circuit breaker '" + name() + "' has no settings");
  }

  /**
   * Changes the thresholds and durations while the breaker runs. The state and the counts so far
   * are kept; each new threshold applies from the next outcome recorded:
   * <ul>
   *   <li>consecutive failures already counted are compared with the new
   *       {@code failureThreshold} at the next failure;
   *   <li>the failure-rate trigger uses the outcomes already in its window (whose length does not
   *       change); turning it on starts from the calls counted since the last transition;
   *   <li>a new {@code slowCallThreshold} judges calls that end after the change, and only calls
   *       that began with a threshold set can count as slow;
   *   <li><b>an open breaker uses the new {@code openDuration} at once</b>, measured from when it
   *       opened: shortening it may make the breaker half-open immediately, lengthening it keeps
   *       it open longer;
   *   <li>a half-open breaker uses the new {@code halfOpenProbes} at once; if it already has that
   *       many probe successes it closes.
   * </ul>
   * The change is logged at INFO as {@code "circuit-breaker '<name>' reconfigured: <old> ->
   * <new>"}; a transition it causes reaches the state listeners as any other.
   *
   * <p>The default throws {@link UnsupportedOperationException}.
   *
   * @param settings the new settings
   * @return the settings in force before the change
   * @throws NullPointerException if {@code settings} is null
   * @throws UnsupportedOperationException if this breaker cannot change at run time
   */
  default Settings reconfigure(Settings settings) {
    throw new UnsupportedOperationException(
        "circuit breaker '" + name() + "' cannot be reconfigured");
  }

  /**
   * A breaker's live thresholds and durations (those of {@link Builder} that make sense to change
   * while it runs; the rate window, the failure predicate and the clock do not change). Immutable
   * and thread-safe.
   *
   * @param failureThreshold consecutive failures that open the breaker, &gt;= 1
   * @param failureRateThreshold the failure rate that opens it, in (0, 1], or 0 for no rate
   *     trigger
   * @param minimumCalls calls the rate window must hold before the rate counts, &gt;= 1 with a
   *     rate trigger (&gt;= 0 without one)
   * @param slowCallThreshold the duration from which a successful call counts as a failure, &gt;
   *     0, or null for none
   * @param openDuration how long the breaker stays open before probing, &gt; 0
   * @param halfOpenProbes probe calls a half-open breaker lets through, &gt;= 1
   */
  record Settings(int failureThreshold, double failureRateThreshold, int minimumCalls,
      Duration slowCallThreshold, Duration openDuration, int halfOpenProbes) {
    /**
     * Validates the settings.
     *
     * @param failureThreshold consecutive failures, &gt;= 1
     * @param failureRateThreshold 0 or in (0, 1]
     * @param minimumCalls &gt;= 1 with a rate trigger, &gt;= 0 without
     * @param slowCallThreshold &gt; 0, or null
     * @param openDuration &gt; 0
     * @param halfOpenProbes &gt;= 1
     * @throws IllegalArgumentException naming the field that is out of range
     */
    public Settings {
      if (failureThreshold < 1) {
        throw new IllegalArgumentException(
            "failureThreshold must be >= 1 but was " + failureThreshold);
      }
      if (!(failureRateThreshold == 0
          || (failureRateThreshold > 0 && failureRateThreshold <= 1))) {
        throw new IllegalArgumentException("failureRateThreshold must be 0 (off) or in (0, 1] but "
            + "was " + failureRateThreshold);
      }
      if (minimumCalls < (failureRateThreshold > 0 ? 1 : 0)) {
        throw new IllegalArgumentException("minimumCalls must be >= "
            + (failureRateThreshold > 0 ? 1 : 0) + " but was " + minimumCalls);
      }
      if (slowCallThreshold != null) {
        Builder.requirePositive("slowCallThreshold", slowCallThreshold);
      }
      Builder.requirePositive("openDuration", openDuration);
      if (halfOpenProbes < 1) {
        throw new IllegalArgumentException("halfOpenProbes must be >= 1 but was " + halfOpenProbes);
      }
    }

    /**
     * The same settings with another failure threshold.
     *
     * @param failureThreshold consecutive failures, &gt;= 1
     * @return the new settings
     * @throws IllegalArgumentException if out of range
     */
    public Settings withFailureThreshold(int failureThreshold) {
      return new Settings(failureThreshold, failureRateThreshold, minimumCalls, slowCallThreshold,
          openDuration, halfOpenProbes);
    }

    /**
     * The same settings with another slow-call threshold.
     *
     * @param slowCallThreshold &gt; 0, or null for none
     * @return the new settings
     * @throws IllegalArgumentException if out of range
     */
    public Settings withSlowCallThreshold(Duration slowCallThreshold) {
      return new Settings(failureThreshold, failureRateThreshold, minimumCalls, slowCallThreshold,
          openDuration, halfOpenProbes);
    }

    /**
     * The same settings with another open duration.
     *
     * @param openDuration &gt; 0
     * @return the new settings
     * @throws IllegalArgumentException if out of range
     */
    public Settings withOpenDuration(Duration openDuration) {
      return new Settings(failureThreshold, failureRateThreshold, minimumCalls, slowCallThreshold,
          openDuration, halfOpenProbes);
    }

    /**
     * The same settings with another number of half-open probes.
     *
     * @param halfOpenProbes &gt;= 1
     * @return the new settings
     * @throws IllegalArgumentException if out of range
     */
    public Settings withHalfOpenProbes(int halfOpenProbes) {
      return new Settings(failureThreshold, failureRateThreshold, minimumCalls, slowCallThreshold,
          openDuration, halfOpenProbes);
    }

    @Override
    public String toString() {
      return "{failureThreshold=" + failureThreshold + ", failureRateThreshold="
          + failureRateThreshold + ", minimumCalls=" + minimumCalls + ", slowCallThreshold="
          + slowCallThreshold + ", openDuration=" + openDuration + ", halfOpenProbes="
          + halfOpenProbes + "}";
    }
  }

  /**
   * Starts a builder.
   *
   * @return a builder with defaults: name {@code "default"}, 5 consecutive failures, no rate
   *     trigger, no slow-call threshold, 30 s open, 1 probe, every exception a failure, the
   *     system clock
   */
  static Builder builder() {
    return new Builder();
  }

  /**
   * Builds {@link CircuitBreaker}s. Setters validate at once; {@link #build()} copies the
   * configuration, so a builder can be reused.
   *
   * <p>Not thread-safe.
   */
  final class Builder {
    String name = "default";
    int failureThreshold = 5;
    double failureRate;
    int minimumCalls;
    Duration window = Duration.ofMinutes(1);
    Duration slowCallThreshold;
    Duration openDuration = Duration.ofSeconds(30);
    int halfOpenProbes = 1;
    Predicate<Throwable> recordFailure = t -> true;
    NanoClock clock = NanoClock.system();
    StateListener listener;
    final List<CircuitBreakerListener> listeners = new ArrayList<>();

    Builder() {}

    /**
     * Adds a listener to every breaker this builder builds, as
     * {@link CircuitBreaker#addListener(CircuitBreakerListener)} would.
     *
     * @param listener the listener
     * @return this builder
     * @throws NullPointerException if {@code listener} is null
     */
    public Builder listener(CircuitBreakerListener listener) {
      listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    /**
     * Names the breaker.
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
     * Opens after this many consecutive failures.
     *
     * @param failures consecutive failures, &gt;= 1
     * @return this builder
     * @throws IllegalArgumentException if {@code failures} &lt; 1
     */
    public Builder failureThreshold(int failures) {
      if (failures < 1) {
        throw new IllegalArgumentException("failureThreshold must be >= 1 but was " + failures);
      }
      this.failureThreshold = failures;
      return this;
    }

    /**
     * Also opens when the failure rate over a sliding window reaches {@code rate}, once the
     * window holds at least {@code minimumCalls} calls.
     *
     * @param rate the failure rate, in (0, 1]
     * @param minimumCalls calls the window must hold before the rate counts, &gt;= 1
     * @param window the window, &gt;= 1 ms
     * @return this builder
     * @throws IllegalArgumentException if an argument is out of range
     */
    public Builder failureRateThreshold(double rate, int minimumCalls, Duration window) {
      if (!(rate > 0 && rate <= 1)) {
        throw new IllegalArgumentException("failureRateThreshold rate must be in (0, 1] but was "
            + rate);
      }
      if (minimumCalls < 1) {
        throw new IllegalArgumentException("failureRateThreshold minimumCalls must be >= 1 but was "
            + minimumCalls);
      }
      this.window = requireAtLeastMillis("failureRateThreshold window", window);
      this.failureRate = rate;
      this.minimumCalls = minimumCalls;
      return this;
    }

    /**
     * Counts a successful call that took at least {@code threshold} as a failure.
     *
     * @param threshold the slow-call duration, &gt; 0
     * @return this builder
     * @throws IllegalArgumentException if {@code threshold} is null, zero or negative
     */
    public Builder slowCallThreshold(Duration threshold) {
      this.slowCallThreshold = requirePositive("slowCallThreshold", threshold);
      return this;
    }

    /**
     * How long the breaker stays open before letting probes through.
     *
     * @param duration the open duration, &gt; 0
     * @return this builder
     * @throws IllegalArgumentException if {@code duration} is null, zero or negative
     */
    public Builder openDuration(Duration duration) {
      this.openDuration = requirePositive("openDuration", duration);
      return this;
    }

    /**
     * How many probe calls a half-open breaker lets through at once; all of them must succeed to
     * close it.
     *
     * @param probes probe calls, &gt;= 1
     * @return this builder
     * @throws IllegalArgumentException if {@code probes} &lt; 1
     */
    public Builder halfOpenProbes(int probes) {
      if (probes < 1) {
        throw new IllegalArgumentException("halfOpenProbes must be >= 1 but was " + probes);
      }
      this.halfOpenProbes = probes;
      return this;
    }

    /**
     * Chooses which exceptions count as failures; others count as successes (for example a 404
     * is the downstream working).
     *
     * @param predicate true for exceptions that are failures
     * @return this builder
     * @throws NullPointerException if {@code predicate} is null
     */
    public Builder recordFailureIf(Predicate<Throwable> predicate) {
      this.recordFailure = Objects.requireNonNull(predicate, "predicate");
      return this;
    }

    /**
     * Sets the clock (tests pass a fake one).
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
     * Adds a first state listener; more can be added with
     * {@link CircuitBreaker#onStateChange(StateListener)}.
     *
     * @param listener the listener
     * @return this builder
     * @throws NullPointerException if {@code listener} is null
     */
    public Builder onStateChange(StateListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /**
     * Builds a closed breaker.
     *
     * @return a new breaker
     */
    public CircuitBreaker build() {
      DefaultCircuitBreaker breaker = new DefaultCircuitBreaker(this);
      for (CircuitBreakerListener l : listeners) {
        breaker.addListener(l);
      }
      return breaker;
    }

    static Duration requirePositive(String what, Duration d) {
      if (d == null || d.isZero() || d.isNegative()) {
        throw new IllegalArgumentException(what + " must be > 0 but was " + d);
      }
      try {
        d.toNanos();
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException(what + " is too long: " + d, e);
      }
      return d;
    }

    static Duration requireAtLeastMillis(String what, Duration d) {
      requirePositive(what, d);
      if (d.toMillis() < 1) {
        throw new IllegalArgumentException(what + " must be >= 1 ms but was " + d);
      }
      return d;
    }
  }
}
