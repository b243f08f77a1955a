package dev.sluice;

import dev.sluice.internal.SlidingWindow;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sluice's own breaker state machine. Failsafe's {@code CircuitBreaker} measures its open delay and
 * time-based windows with {@code System.nanoTime()} and cannot take an injected clock, so its
 * transitions could not be tested without sleeping; this small state machine reads the
 * {@link NanoClock} instead, and {@link BreakerPolicy} plugs it into Failsafe executions through
 * Failsafe's policy SPI. All state is guarded by {@code this}; listeners run after the lock is
 * released.
 */
final class DefaultCircuitBreaker implements CircuitBreaker {
  private static final Logger LOG = LoggerFactory.getLogger(CircuitBreaker.class);
  private static final int WINDOW_BUCKETS = 10;

  private final String name;
  private final int failureThreshold;
  private final double failureRate;
  private final int minimumCalls;
  private final long slowNanos;
  private final long openNanos;
  private final int halfOpenProbes;
  private final Predicate<Throwable> recordFailure;
  private final NanoClock clock;
  private final CopyOnWriteArrayList<StateListener> listeners = new CopyOnWriteArrayList<>();

  private final SlidingWindow window;
  /** Written under the lock; read without it only by the closed-state fast path of permit(). */
  private volatile State state = State.CLOSED;
  private long openedAt;
  private long halfOpenedAt;
  private int consecutiveFailures;
  private int probesInFlight;
  private int probeSuccesses;

  DefaultCircuitBreaker(CircuitBreaker.Builder b) {
    this.name = b.name;
    this.failureThreshold = b.failureThreshold;
    this.failureRate = b.failureRate;
    this.minimumCalls = b.minimumCalls;
    this.slowNanos = b.slowCallThreshold == null ? Long.MAX_VALUE : b.slowCallThreshold.toNanos();
    this.openNanos = b.openDuration.toNanos();
    this.halfOpenProbes = b.halfOpenProbes;
    this.recordFailure = b.recordFailure;
    this.clock = b.clock;
    this.window = new SlidingWindow(b.window.toNanos(), WINDOW_BUCKETS, clock.nanoTime());
    if (b.listener != null) {
      listeners.add(b.listener);
    }
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public State state() {
    State[] change;
    State current;
    synchronized (this) {
      change = expireOpen(clock.nanoTime());
      current = state;
    }
    fire(change);
    return current;
  }

  @Override
  public synchronized Duration untilProbe() {
    if (state != State.OPEN) {
      return Duration.ZERO;
    }
    return Duration.ofNanos(Math.max(0, openNanos - (clock.nanoTime() - openedAt)));
  }

  @Override
  public boolean tryAcquirePermission() {
    return permit() == null;
  }

  @Override
  public void acquirePermission() {
    CircuitOpenException refused = permit();
    if (refused != null) {
      throw refused;
    }
  }

  /** Returns null when permitted, else the refusal. */
  private CircuitOpenException permit() {
    if (state == State.CLOSED) {
      return null; // nothing to expire or count while closed: no lock, no clock
    }
    State[] change;
    CircuitOpenException refused = null;
    synchronized (this) {
      long now = clock.nanoTime();
      change = expireOpen(now);
      if (state == State.OPEN) {
        refused = new CircuitOpenException(
            name, State.OPEN, Duration.ofNanos(Math.max(0, openNanos - (now - openedAt))));
      } else if (state == State.HALF_OPEN) {
        if (probesInFlight > 0 && now - halfOpenedAt >= openNanos) {
          // A probe that never reported (its caller was cancelled or crashed) must not keep the
          // breaker half-open forever: after one more open duration its slot is given back.
          probesInFlight = 0;
          probeSuccesses = 0;
          halfOpenedAt = now;
        }
        if (probesInFlight + probeSuccesses >= halfOpenProbes) {
          refused = new CircuitOpenException(name, State.HALF_OPEN, Duration.ZERO);
        } else {
          probesInFlight++;
        }
      }
    }
    fire(change);
    return refused;
  }

  @Override
  public void recordSuccess(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    recordSuccess(duration.toNanos(), clock.nanoTime());
  }

  /** Records a success that took {@code tookNanos} and ended at {@code now}. */
  private void recordSuccess(long tookNanos, long now) {
    if (tookNanos >= slowNanos) {
      recordFailure(now);
      return;
    }
    State[] change = null;
    synchronized (this) {
      switch (state) {
        case CLOSED:
          consecutiveFailures = 0;
          window.record(now, true);
          break;
        case HALF_OPEN:
          probesInFlight = Math.max(0, probesInFlight - 1);
          probeSuccesses++;
          if (probeSuccesses >= halfOpenProbes) {
            change = transition(State.CLOSED, now);
          }
          break;
        default:
          // A call admitted before the breaker opened; its outcome no longer matters.
          break;
      }
    }
    fire(change);
  }

  @Override
  public void recordFailure(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    recordFailure(clock.nanoTime());
  }

  /** Records a failure that ended at {@code now}; an opening breaker is open from then. */
  private void recordFailure(long now) {
    State[] change = null;
    synchronized (this) {
      switch (state) {
        case CLOSED:
          consecutiveFailures++;
          window.record(now, false);
          if (consecutiveFailures >= failureThreshold || rateTripped(now)) {
            change = transition(State.OPEN, now);
          }
          break;
        case HALF_OPEN:
          change = transition(State.OPEN, now);
          break;
        default:
          break;
      }
    }
    fire(change);
  }

  @Override
  public boolean isFailure(Throwable failure) {
    return recordFailure.test(failure);
  }

  @Override
  public <T> T call(Callable<T> work) throws Exception {
    Objects.requireNonNull(work, "work");
    acquirePermission();
    long start = clock.nanoTime();
    T result;
    try {
      result = work.call();
    } catch (Throwable t) {
      record(t, start);
      throw t;
    }
    long end = clock.nanoTime();
    recordSuccess(end - start, end);
    return result;
  }

  @Override
  public <T> CompletableFuture<T> callAsync(Supplier<? extends CompletionStage<T>> work) {
    Objects.requireNonNull(work, "work");
    CircuitOpenException refused = permit();
    if (refused != null) {
      return CompletableFuture.failedFuture(refused);
    }
    long start = clock.nanoTime();
    CompletionStage<T> stage;
    try {
      stage = work.get();
    } catch (Throwable t) {
      record(t, start);
      return CompletableFuture.failedFuture(t);
    }
    CompletableFuture<T> result = new CompletableFuture<>();
    stage.whenComplete((value, error) -> {
      if (error == null) {
        long end = clock.nanoTime();
        recordSuccess(end - start, end);
        result.complete(value);
      } else {
        Throwable cause = error instanceof CompletionException && error.getCause() != null
            ? error.getCause() : error;
        record(cause, start);
        result.completeExceptionally(cause);
      }
    });
    return result;
  }

  private void record(Throwable t, long start) {
    long end = clock.nanoTime();
    if (isFailure(t)) {
      recordFailure(end);
    } else {
      recordSuccess(end - start, end);
    }
  }

  @Override
  public void onStateChange(StateListener listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
  }

  @Override
  public void reset() {
    State[] change;
    synchronized (this) {
      change = state == State.CLOSED ? null : transition(State.CLOSED, 0);
      window.clear();
    }
    fire(change);
  }

  @Override
  public synchronized int consecutiveFailures() {
    return consecutiveFailures;
  }

  @Override
  public synchronized double failureRate() {
    long[] totals = window.totals(clock.nanoTime());
    long calls = totals[0] + totals[1];
    return calls == 0 ? 0 : totals[1] / (double) calls;
  }

  private boolean rateTripped(long now) {
    if (failureRate <= 0) {
      return false;
    }
    long[] totals = window.totals(now);
    long calls = totals[0] + totals[1];
    return calls >= minimumCalls && totals[1] >= failureRate * calls;
  }

  /** Turns an expired open state into half-open; caller holds the lock. */
  private State[] expireOpen(long now) {
    if (state == State.OPEN && now - openedAt >= openNanos) {
      return transition(State.HALF_OPEN, now);
    }
    return null;
  }

  /**
   * Caller holds the lock; returns {from, to} for {@link #fire}. {@code now} is the time of the
   * decision that changes the state, which opening and half-opening start from (closing ignores
   * it): a second clock read here would start them later than that decision, so a breaker would
   * stay open a little longer than its open duration, measured from the failure that opened it.
   */
  private State[] transition(State to, long now) {
    State from = state;
    state = to;
    consecutiveFailures = 0;
    probesInFlight = 0;
    probeSuccesses = 0;
    if (to == State.OPEN) {
      openedAt = now;
    }
    if (to == State.HALF_OPEN) {
      halfOpenedAt = now;
    }
    if (to == State.CLOSED) {
      window.clear();
    }
    return new State[] {from, to};
  }

  private void fire(State[] change) {
    if (change == null) {
      return;
    }
    for (StateListener listener : listeners) {
      try {
        listener.onStateChange(name, change[0], change[1]);
      } catch (RuntimeException e) {
        LOG.warn("circuit breaker '{}' state listener failed", name, e);
      }
    }
  }

  @Override
  public String toString() {
    return "CircuitBreaker[" + name + ": " + state() + "]";
  }
}
