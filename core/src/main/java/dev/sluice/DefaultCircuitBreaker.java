package dev.sluice;

import dev.sluice.internal.Listeners;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.LongAdder;
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

  /** {@code start} of a call that was not timed (no slow-call threshold when it began). */
  private static final long UNTIMED = Long.MIN_VALUE;

  private final String name;
  // The settings below change only under the lock (reconfigure); fast paths read them without.
  private volatile int failureThreshold;
  private volatile double failureRate;
  private volatile int minimumCalls;
  private volatile long slowNanos;
  private volatile long openNanos;
  private volatile int halfOpenProbes;
  private final Predicate<Throwable> recordFailure;
  private final NanoClock clock;
  private final Listeners<CircuitBreakerListener> listeners;
  /** Transitions not yet given to the listeners, oldest first. Guarded by {@code this}. */
  private final ArrayDeque<State[]> undelivered = new ArrayDeque<>();
  /** Whether a thread is giving {@link #undelivered} to the listeners. Guarded by {@code this}. */
  private boolean delivering;

  /** Whether a success needs its duration (a slow-call threshold is set). */
  private volatile boolean timesCalls;
  /** Whether a success goes straight into its window bucket (a rate trigger is set). */
  private volatile boolean timesSuccesses;
  private final OutcomeWindow window;
  /**
   * Closed-state successes not yet in the window, when {@link #timesSuccesses} is off; moved into
   * it (counted as the total seen so far) whenever the lock holder reads the clock.
   */
  private final LongAdder untimedSuccesses = new LongAdder();
  private long untimedSeen;
  /** Written under the lock; read without it by the closed-state fast paths. */
  private volatile State state = State.CLOSED;
  private long openedAt;
  private long halfOpenedAt;
  /** Written under the lock; read without it by a closed-state success, which clears it. */
  private volatile int consecutiveFailures;
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
    this.timesCalls = b.slowCallThreshold != null;
    this.timesSuccesses = b.failureRate > 0;
    this.window = new OutcomeWindow(b.window.toNanos(), WINDOW_BUCKETS, clock.nanoTime());
    this.listeners = new Listeners<>("circuit breaker '" + name + "'");
    if (b.listener != null) {
      onStateChange(b.listener);
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
    if (refused != null) {
      notPermitted();
    }
    return refused;
  }

  /** Tells the listeners of a call refused while open, here or by a policy before asking. */
  void notPermitted() {
    Object[] ls = listeners.array();
    for (Object l : ls) {
      try {
        ((CircuitBreakerListener) l).onNotPermitted();
      } catch (RuntimeException e) {
        listeners.failed(l, "onNotPermitted", e);
      }
    }
  }

  /** Tells the listeners of a recorded outcome: a failure when {@code failed}, else a success. */
  private void outcome(Object[] ls, boolean failed, long nanos, Throwable failure) {
    Duration d = Duration.ofNanos(Math.max(0, nanos));
    for (Object l : ls) {
      try {
        if (failed) {
          ((CircuitBreakerListener) l).onFailure(d, failure);
        } else {
          ((CircuitBreakerListener) l).onSuccess(d);
        }
      } catch (RuntimeException e) {
        listeners.failed(l, failed ? "onFailure" : "onSuccess", e);
      }
    }
  }

  /** Whether anyone listens, so callers that time calls only for listeners know to. */
  boolean observed() {
    return listeners.array().length != 0;
  }

  @Override
  public void recordSuccess(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    boolean slow = timesCalls && duration.toNanos() >= slowNanos;
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      outcome(ls, slow, duration.toNanos(), null);
    }
    if (slow) {
      recordFailure(clock.nanoTime());
      return;
    }
    succeeded(0, false);
  }

  /**
   * Records a success that was not slow. {@code now} is the end of the call when
   * {@code haveNow}; otherwise the clock is read only if the window needs the success's time.
   */
  private void succeeded(long now, boolean haveNow) {
    if (state == State.CLOSED) {
      countClosedSuccess(now, haveNow);
      if (consecutiveFailures != 0) {
        clearFailures();
      }
      return;
    }
    State[] change = null;
    boolean closed = false;
    synchronized (this) {
      switch (state) {
        case CLOSED:
          // Closed while this thread waited for the lock: a closed success after all.
          consecutiveFailures = 0;
          closed = true;
          break;
        case HALF_OPEN:
          probesInFlight = Math.max(0, probesInFlight - 1);
          probeSuccesses++;
          if (probeSuccesses >= halfOpenProbes) {
            change = transition(State.CLOSED, 0); // closing needs no time
          }
          break;
        default:
          // A call admitted before the breaker opened; its outcome no longer matters.
          break;
      }
    }
    if (closed) {
      countClosedSuccess(now, haveNow);
    }
    fire(change);
  }

  private void countClosedSuccess(long now, boolean haveNow) {
    if (timesSuccesses) {
      window.addSuccesses(haveNow ? now : clock.nanoTime(), 1, this);
    } else {
      untimedSuccesses.increment();
    }
  }

  private synchronized void clearFailures() {
    if (state == State.CLOSED) {
      consecutiveFailures = 0;
    }
  }

  @Override
  public void recordFailure(Duration duration) {
    recordFailure(duration, null);
  }

  /**
   * Records a failure with what it threw, for listeners ({@link BreakerPolicy} and the guard).
   *
   * @param duration how long the call took
   * @param failure what it threw, or null
   */
  void recordFailure(Duration duration, Throwable failure) {
    Objects.requireNonNull(duration, "duration");
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      outcome(ls, true, duration.toNanos(), failure);
    }
    recordFailure(clock.nanoTime());
  }

  /** Records a failure that ended at {@code now}; an opening breaker is open from then. */
  private void recordFailure(long now) {
    State[] change = null;
    synchronized (this) {
      switch (state) {
        case CLOSED:
          consecutiveFailures++;
          catchUp(now);
          window.addFailure(now);
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
    Object[] ls = listeners.array();
    // Only a call that began with a slow-call threshold can be slow; listeners want the duration.
    boolean judged = timesCalls;
    long start = judged || ls.length != 0 ? clock.nanoTime() : UNTIMED;
    T result;
    try {
      result = work.call();
    } catch (Throwable t) {
      record(t, start, judged, ls);
      throw t;
    }
    finished(start, judged, ls);
    return result;
  }

  @Override
  public <T> CompletableFuture<T> callAsync(Supplier<? extends CompletionStage<T>> work) {
    Objects.requireNonNull(work, "work");
    CircuitOpenException refused = permit();
    if (refused != null) {
      return CompletableFuture.failedFuture(refused);
    }
    Object[] ls = listeners.array();
    // Only a call that began with a slow-call threshold can be slow; listeners want the duration.
    boolean judged = timesCalls;
    long start = judged || ls.length != 0 ? clock.nanoTime() : UNTIMED;
    CompletionStage<T> stage;
    try {
      stage = work.get();
    } catch (Throwable t) {
      record(t, start, judged, ls);
      return CompletableFuture.failedFuture(t);
    }
    CompletableFuture<T> result = new CompletableFuture<>();
    stage.whenComplete((value, error) -> {
      if (error == null) {
        finished(start, judged, ls);
        result.complete(value);
      } else {
        Throwable cause = error instanceof CompletionException && error.getCause() != null
            ? error.getCause() : error;
        record(cause, start, judged, ls);
        result.completeExceptionally(cause);
      }
    });
    return result;
  }

  /** Records a call started at {@code start} (read only when timing calls) that returned. */
  private void finished(long start, boolean judged, Object[] ls) {
    if (start == UNTIMED) {
      succeeded(0, false);
      return;
    }
    long end = clock.nanoTime();
    boolean slow = judged && timesCalls && end - start >= slowNanos;
    if (ls.length != 0) {
      outcome(ls, slow, end - start, null);
    }
    if (slow) {
      recordFailure(end);
    } else {
      succeeded(end, true);
    }
  }

  private void record(Throwable t, long start, boolean judged, Object[] ls) {
    long end = clock.nanoTime();
    long took = start == UNTIMED ? 0 : end - start;
    boolean failed = isFailure(t) || judged && timesCalls && took >= slowNanos;
    if (ls.length != 0) {
      outcome(ls, failed, took, t);
    }
    if (failed) {
      recordFailure(end);
    } else {
      succeeded(end, true);
    }
  }

  @Override
  public void onStateChange(StateListener listener) {
    Objects.requireNonNull(listener, "listener");
    addListener(new CircuitBreakerListener() {
      @Override
      public void onStateTransition(State from, State to) {
        listener.onStateChange(name, from, to);
      }

      @Override
      public String toString() {
        return listener.toString();
      }
    });
  }

  @Override
  public void addListener(CircuitBreakerListener listener) {
    listeners.add(listener);
  }

  @Override
  public void reset() {
    State[] change;
    synchronized (this) {
      change = state == State.CLOSED ? null : transition(State.CLOSED, 0);
      consecutiveFailures = 0;
      window.clear();
      untimedSeen = untimedSuccesses.sum();
    }
    fire(change);
  }

  @Override
  public int consecutiveFailures() {
    return consecutiveFailures;
  }

  @Override
  public synchronized double failureRate() {
    long now = clock.nanoTime();
    catchUp(now);
    long[] totals = window.totals(now);
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

  /** Moves closed-state successes counted without a time into the window at {@code now}. */
  private void catchUp(long now) {
    if (timesSuccesses) {
      return;
    }
    long total = untimedSuccesses.sum();
    if (total != untimedSeen) {
      window.addSuccesses(now, total - untimedSeen, this);
      untimedSeen = total;
    }
  }

  /** Whether {@link BreakerPolicy} must time each attempt (only for a slow-call threshold). */
  boolean timesCalls() {
    return timesCalls;
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
      untimedSeen = untimedSuccesses.sum();
    }
    State[] change = {from, to};
    if (listeners.array().length != 0) {
      undelivered.add(change);
    }
    return change;
  }

  /**
   * Gives queued transitions to the listeners, outside the lock, one at a time and in the order
   * they were made: the first thread to find transitions undelivered delivers them all, including
   * those other threads queue meanwhile (they leave them to it).
   */
  private void fire(State[] change) {
    if (change == null) {
      return;
    }
    synchronized (this) {
      if (delivering || undelivered.isEmpty()) {
        return;
      }
      delivering = true;
    }
    boolean done = false;
    try {
      for (;;) {
        State[] next;
        synchronized (this) {
          next = undelivered.poll();
          if (next == null) {
            delivering = false;
            done = true;
            return;
          }
        }
        for (Object l : listeners.array()) {
          try {
            ((CircuitBreakerListener) l).onStateTransition(next[0], next[1]);
          } catch (RuntimeException e) {
            listeners.failed(l, "onStateTransition", e);
          }
        }
      }
    } finally {
      if (!done) {
        synchronized (this) {
          delivering = false;
        }
      }
    }
  }

  @Override
  public synchronized Settings settings() {
    return new Settings(failureThreshold, failureRate, minimumCalls,
        timesCalls ? Duration.ofNanos(slowNanos) : null, Duration.ofNanos(openNanos),
        halfOpenProbes);
  }

  @Override
  public Settings reconfigure(Settings settings) {
    Objects.requireNonNull(settings, "settings");
    Settings old;
    State[] change = null;
    synchronized (this) {
      old = settings();
      long now = clock.nanoTime();
      boolean rate = settings.failureRateThreshold() > 0;
      if (rate && !timesSuccesses) {
        catchUp(now); // successes counted without a time go into the window before it times them
      } else if (!rate && timesSuccesses) {
        untimedSeen = untimedSuccesses.sum();
      }
      failureThreshold = settings.failureThreshold();
      failureRate = settings.failureRateThreshold();
      minimumCalls = settings.minimumCalls();
      slowNanos = settings.slowCallThreshold() == null
          ? Long.MAX_VALUE : settings.slowCallThreshold().toNanos();
      openNanos = settings.openDuration().toNanos();
      halfOpenProbes = settings.halfOpenProbes();
      timesCalls = settings.slowCallThreshold() != null;
      timesSuccesses = rate;
      // An open breaker's current open period is measured with the new duration from when it
      // opened; a half-open one that already has the probe successes now asked for closes.
      change = expireOpen(now);
      if (change == null && state == State.HALF_OPEN && probeSuccesses >= halfOpenProbes) {
        change = transition(State.CLOSED, 0);
      }
    }
    LOG.info("circuit-breaker '{}' reconfigured: {} -> {}", name, old, settings);
    fire(change);
    return old;
  }

  @Override
  public String toString() {
    return "CircuitBreaker[" + name + ": " + state() + "]";
  }

  /**
   * Success and failure counts over a sliding time window, in a fixed ring of buckets. Successes
   * are added without the breaker's lock (a striped counter per bucket); a bucket is recycled for
   * a new time slot, and failures are added, under the lock. A success that finds its bucket still
   * holding an older slot takes the lock once to recycle it, about once per bucket length. Times
   * are compared by subtraction from a fixed origin, so clocks with any origin work.
   */
  private static final class OutcomeWindow {
    private static final long EMPTY = Long.MIN_VALUE;
    private final long origin;
    private final long bucketNanos;
    private final Bucket[] buckets;

    OutcomeWindow(long windowNanos, int buckets, long now) {
      this.origin = now;
      this.bucketNanos = Math.max(1, windowNanos / buckets);
      this.buckets = new Bucket[buckets];
      for (int i = 0; i < buckets; i++) {
        this.buckets[i] = new Bucket();
      }
    }

    /** Adds successes at {@code now}; lock-free unless the bucket must be recycled. */
    void addSuccesses(long now, long count, Object lock) {
      long epoch = epoch(now);
      Bucket b = bucket(epoch);
      if (b.epoch != epoch) {
        synchronized (lock) {
          if (b.epoch != EMPTY && b.epoch > epoch) {
            return; // this thread stalled for a whole window: the success is already out of it
          }
          recycle(b, epoch);
        }
      }
      b.successes.add(count);
    }

    /** Adds a failure at {@code now}; the caller holds the lock. */
    void addFailure(long now) {
      long epoch = epoch(now);
      Bucket b = bucket(epoch);
      if (b.epoch != epoch) {
        if (b.epoch != EMPTY && b.epoch > epoch) {
          return;
        }
        recycle(b, epoch);
      }
      b.failures++;
    }

    /** Returns {successes, failures} inside the window; the caller holds the lock. */
    long[] totals(long now) {
      long epoch = epoch(now);
      long s = 0;
      long f = 0;
      for (Bucket b : buckets) {
        long e = b.epoch;
        if (e != EMPTY && epoch - e >= 0 && epoch - e < buckets.length) {
          s += b.successes.sum();
          f += b.failures;
        }
      }
      return new long[] {s, f};
    }

    /** Forgets every outcome; the caller holds the lock. */
    void clear() {
      for (Bucket b : buckets) {
        b.epoch = EMPTY;
        b.successes.reset();
        b.failures = 0;
      }
    }

    private static void recycle(Bucket b, long epoch) {
      if (b.epoch != epoch) {
        // Reset before publishing the slot: a success that sees the new epoch adds after this.
        b.successes.reset();
        b.failures = 0;
        b.epoch = epoch;
      }
    }

    private Bucket bucket(long epoch) {
      return buckets[(int) Math.floorMod(epoch, (long) buckets.length)];
    }

    private long epoch(long now) {
      return Math.floorDiv(now - origin, bucketNanos);
    }
  }

  /** One time slot of the window. */
  private static final class Bucket {
    volatile long epoch = OutcomeWindow.EMPTY;
    final LongAdder successes = new LongAdder();
    /** Guarded by the breaker's lock. */
    long failures;
  }
}
