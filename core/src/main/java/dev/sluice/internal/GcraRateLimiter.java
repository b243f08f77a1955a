package dev.sluice.internal;

import dev.sluice.NanoClock;
import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimitStoreException;
import dev.sluice.RateLimiter;
import dev.sluice.RateLimiterListener;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The GCRA limiter over any {@link RateLimitStore}. All arithmetic on times is by subtraction, so
 * clocks with any origin work. Thread-safe: all key state lives in the store, and the policy is one
 * immutable object, replaced whole by {@link #reconfigure} and read once per decision.
 *
 * @param <K> the key type
 */
public final class GcraRateLimiter<K> implements RateLimiter<K> {
  private static final Logger LOG = LoggerFactory.getLogger(RateLimiter.class);
  private static final VarHandle POLICY;

  static {
    try {
      POLICY = MethodHandles.lookup().findVarHandle(GcraRateLimiter.class, "policy", Policy.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final String name;
  /** The policy in force; replaced whole by {@link #reconfigure}, read once per decision. */
  private volatile Policy policy;
  private final NanoClock clock;
  private final RateLimitStore<K> store;
  /** The default store, called directly so the hot path allocates nothing; else null. */
  private final InMemoryRateLimitStore<K> memory;
  private final boolean local;
  /** Told of every decision and store failure; empty costs one volatile read per decision. */
  private final Listeners<RateLimiterListener<? super K>> listeners;

  /**
   * Creates a limiter; arguments were validated by the builder.
   *
   * @param name policy name
   * @param limit calls per period
   * @param period the period
   * @param burst calls at once
   * @param interval emission interval in nanoseconds
   * @param tolerance burst times interval, in nanoseconds
   * @param store the state store
   * @param clock times how a larger tolerance grows in after {@link #reconfigure}
   */
  public GcraRateLimiter(String name, int limit, Duration period, int burst, long interval,
      long tolerance, RateLimitStore<K> store, NanoClock clock) {
    this.name = name;
    this.policy = new Policy(new Settings(limit, period, burst), interval, tolerance, 0, 0);
    this.clock = clock;
    this.store = store;
    this.memory = store instanceof InMemoryRateLimitStore ? (InMemoryRateLimitStore<K>) store : null;
    this.local = memory != null || !store.isRemote();
    this.listeners = new Listeners<>("rate limiter '" + name + "'");
  }

  @Override
  public RateLimitDecision tryAcquire(K key) {
    return tryAcquire(key, 1);
  }

  @Override
  public RateLimitDecision tryAcquire(K key, int cost) {
    Objects.requireNonNull(key, "key");
    Policy p = policy;
    if (cost < 1 || cost > p.burst) {
      throw new IllegalArgumentException(
          "cost must be in [1, burst=" + p.burst + "] but was " + cost);
    }
    long increment = cost * p.interval;
    long tolerance = tolerance(p);
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      return reported(key, increment, tolerance, p, ls);
    }
    if (memory != null) {
      return memory.acquire(key, increment, tolerance, this, p);
    }
    return decision(store.acquire(key, increment, tolerance), increment, tolerance, p);
  }

  /** A synchronous decision told to the listeners (the path with at least one listener). */
  private RateLimitDecision reported(K key, long increment, long tolerance, Policy p,
      Object[] ls) {
    RateLimitDecision d;
    try {
      d = memory != null
          ? memory.acquire(key, increment, tolerance, this, p)
          : decision(store.acquire(key, increment, tolerance), increment, tolerance, p);
    } catch (RateLimitStoreException e) {
      storeFailed(ls, key, e);
      throw e;
    }
    decided(ls, key, d);
    return d;
  }

  @SuppressWarnings("unchecked")
  private void decided(Object[] ls, K key, RateLimitDecision d) {
    for (Object l : ls) {
      try {
        ((RateLimiterListener<? super K>) l).onDecision(key, d);
      } catch (RuntimeException e) {
        listeners.failed(l, "onDecision", e);
      }
    }
  }

  @SuppressWarnings("unchecked")
  private void storeFailed(Object[] ls, K key, RuntimeException failure) {
    for (Object l : ls) {
      try {
        ((RateLimiterListener<? super K>) l).onStoreFailure(key, failure);
      } catch (RuntimeException e) {
        listeners.failed(l, "onStoreFailure", e);
      }
    }
  }

  @Override
  public void addListener(RateLimiterListener<? super K> listener) {
    listeners.add(listener);
  }

  @Override
  public boolean tryAcquirePermit(K key) {
    Objects.requireNonNull(key, "key");
    Policy p = policy;
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      return reported(key, p.interval, tolerance(p), p, ls).allowed();
    }
    if (memory != null) {
      return memory.tryAcquire(key, p.interval, tolerance(p));
    }
    return store.acquire(key, p.interval, tolerance(p)).allowed();
  }

  @Override
  public CompletionStage<RateLimitDecision> tryAcquireAsync(K key, int cost) {
    Objects.requireNonNull(key, "key");
    Policy p = policy;
    if (cost < 1 || cost > p.burst) {
      throw new IllegalArgumentException(
          "cost must be in [1, burst=" + p.burst + "] but was " + cost);
    }
    long increment = cost * p.interval;
    long tolerance = tolerance(p);
    Object[] ls = listeners.array();
    if (local) {
      try {
        return CompletableFuture.completedFuture(ls.length != 0
            ? reported(key, increment, tolerance, p, ls)
            : memory != null
            ? memory.acquire(key, increment, tolerance, this, p)
            : decision(store.acquire(key, increment, tolerance), increment, tolerance, p));
      } catch (RateLimitStoreException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
    CompletionStage<RateLimitStore.Outcome> step;
    try {
      step = store.acquireAsync(key, increment, tolerance);
    } catch (RateLimitStoreException e) {
      if (ls.length != 0) {
        storeFailed(ls, key, e);
      }
      return CompletableFuture.failedFuture(e);
    }
    // A stage of our own rather than thenApply, so a failure reaches the caller as the store's
    // exception and not wrapped in a CompletionException.
    CompletableFuture<RateLimitDecision> result = new CompletableFuture<>();
    step.whenComplete((outcome, failure) -> {
      if (failure == null) {
        RateLimitDecision d = decision(outcome, increment, tolerance, p);
        if (ls.length != 0) {
          decided(ls, key, d);
        }
        result.complete(d);
      } else {
        Throwable cause = storeFailure(key, failure);
        if (ls.length != 0 && cause instanceof RateLimitStoreException) {
          storeFailed(ls, key, (RateLimitStoreException) cause);
        }
        result.completeExceptionally(cause);
      }
    });
    return result;
  }

  private Throwable storeFailure(K key, Throwable failure) {
    Throwable cause = failure instanceof CompletionException && failure.getCause() != null
        ? failure.getCause() : failure;
    if (cause instanceof RateLimitStoreException || cause instanceof CancellationException) {
      return cause;
    }
    return new RateLimitStoreException(
        "rate-limit store " + store + " failed for key '" + key + "': " + cause, cause);
  }

  @Override
  public boolean isLocal() {
    return local;
  }

  private RateLimitDecision decision(RateLimitStore.Outcome outcome, long increment,
      long tolerance, Policy p) {
    return decision(outcome.allowed(), outcome.tatNanos(), outcome.nowNanos(), increment,
        tolerance, p);
  }

  /**
   * Turns one store step into a decision.
   *
   * @param allowed whether the step was allowed
   * @param tat the TAT after the step
   * @param now the time of the step
   * @param increment the step's increment
   * @param tolerance the tolerance the step used
   * @param p the policy the step used
   * @return the decision
   */
  RateLimitDecision decision(boolean allowed, long tat, long now, long increment, long tolerance,
      Policy p) {
    long owed = Math.max(0, tat - now);
    long remaining = Math.max(0, tolerance - owed) / p.interval;
    long retryAfter = allowed ? 0 : Math.max(1, tat + increment - tolerance - now);
    return new RateLimitDecision(allowed, p.settings.limit(), remaining, retryAfter, owed,
        p.periodNanos, name);
  }

  /**
   * The tolerance a decision uses: the policy's, or while a larger one grows in after a change,
   * the old one plus the time since the change. Reads the clock only while growing.
   */
  private long tolerance(Policy p) {
    if (p.growFrom == 0) {
      return p.tolerance;
    }
    long elapsed = clock.nanoTime() - p.growStart;
    if (elapsed < 0) {
      return p.growFrom; // a clock stepping back never grants more
    }
    if (elapsed >= p.tolerance - p.growFrom) {
      // Grown: later decisions need no clock read. Only this very policy is replaced, so a
      // concurrent reconfigure always wins.
      POLICY.compareAndSet(this, p,
          new Policy(p.settings, p.interval, p.tolerance, 0, 0));
      return p.tolerance;
    }
    return p.growFrom + elapsed;
  }

  @Override
  public Settings settings() {
    return policy.settings;
  }

  @Override
  public synchronized Settings reconfigure(Settings settings) {
    Objects.requireNonNull(settings, "settings");
    long[] timing = timing(settings.limit(), settings.period(), settings.burst());
    Policy old = policy;
    long now = clock.nanoTime();
    long current = tolerance(old);
    Policy next;
    if (timing[1] > current) {
      // Grows in from the tolerance in force now (which may itself still be growing).
      next = new Policy(settings, timing[0], timing[1], Math.max(1, current), now);
    } else {
      next = new Policy(settings, timing[0], timing[1], 0, 0);
    }
    policy = next;
    if (memory != null) {
      // Keys may still owe up to the old tolerance: keep them at least that long.
      memory.idleExpiry(Math.max(old.tolerance, timing[1]));
    }
    LOG.info("rate-limiter '{}' reconfigured: {} -> {}", name, old.settings, settings);
    return old.settings;
  }

  /**
   * The emission interval and tolerance of a policy, as {@link RateLimiter.Builder} computes them.
   *
   * @param limit calls per period
   * @param period the period
   * @param burst calls at once
   * @return {interval, tolerance} in nanoseconds
   * @throws IllegalArgumentException if burst times the interval is too long
   */
  static long[] timing(int limit, Duration period, int burst) {
    long periodNanos = period.toNanos();
    long interval = periodNanos / limit + (periodNanos % limit == 0 ? 0 : 1);
    long tolerance;
    try {
      tolerance = Math.multiplyExact(interval, (long) burst);
      // Leave headroom so now + tolerance + increment can never overflow a long.
      Math.multiplyExact(tolerance, 4L);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(
          "burst " + burst + " times the emission interval " + interval + " ns is too long", e);
    }
    return new long[] {interval, tolerance};
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int limit() {
    return policy.settings.limit();
  }

  @Override
  public Duration period() {
    return policy.settings.period();
  }

  @Override
  public int burst() {
    return policy.burst;
  }

  @Override
  public Duration emissionInterval() {
    return Duration.ofNanos(policy.interval);
  }

  /**
   * The store behind this limiter.
   *
   * @return the store
   */
  public RateLimitStore<K> store() {
    return store;
  }

  @Override
  public String toString() {
    Settings s = policy.settings;
    return "RateLimiter[" + name + ": " + s.limit() + " per " + s.period() + ", burst "
        + s.burst() + "]";
  }

  /**
   * One policy, immutable: what a decision reads, once. {@code growFrom} is 0 unless a larger
   * tolerance is growing in, from {@code growFrom} at clock time {@code growStart}.
   */
  static final class Policy {
    final Settings settings;
    final int burst;
    final long periodNanos;
    final long interval;
    final long tolerance;
    final long growFrom;
    final long growStart;

    Policy(Settings settings, long interval, long tolerance, long growFrom, long growStart) {
      this.settings = settings;
      this.burst = settings.burst();
      this.periodNanos = settings.period().toNanos();
      this.interval = interval;
      this.tolerance = tolerance;
      this.growFrom = growFrom;
      this.growStart = growStart;
    }
  }
}
