package dev.sluice.internal;

import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimitStoreException;
import dev.sluice.RateLimiter;
import dev.sluice.RateLimiterListener;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * The GCRA limiter over any {@link RateLimitStore}. All arithmetic on times is by subtraction, so
 * clocks with any origin work. Thread-safe: all state lives in the store.
 *
 * @param <K> the key type
 */
public final class GcraRateLimiter<K> implements RateLimiter<K> {
  private final String name;
  private final int limit;
  private final Duration period;
  private final long periodNanos;
  private final int burst;
  private final long interval;
  private final long tolerance;
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
   */
  public GcraRateLimiter(String name, int limit, Duration period, int burst, long interval,
      long tolerance, RateLimitStore<K> store) {
    this.name = name;
    this.limit = limit;
    this.period = period;
    this.periodNanos = period.toNanos();
    this.burst = burst;
    this.interval = interval;
    this.tolerance = tolerance;
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
    if (cost < 1 || cost > burst) {
      throw new IllegalArgumentException(
          "cost must be in [1, burst=" + burst + "] but was " + cost);
    }
    long increment = cost * interval;
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      return reported(key, increment, ls);
    }
    if (memory != null) {
      return memory.acquire(key, increment, tolerance, this);
    }
    return decision(store.acquire(key, increment, tolerance), increment);
  }

  /** A synchronous decision told to the listeners (the path with at least one listener). */
  private RateLimitDecision reported(K key, long increment, Object[] ls) {
    RateLimitDecision d;
    try {
      d = memory != null
          ? memory.acquire(key, increment, tolerance, this)
          : decision(store.acquire(key, increment, tolerance), increment);
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
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      return reported(key, interval, ls).allowed();
    }
    if (memory != null) {
      return memory.tryAcquire(key, interval, tolerance);
    }
    return store.acquire(key, interval, tolerance).allowed();
  }

  @Override
  public CompletionStage<RateLimitDecision> tryAcquireAsync(K key, int cost) {
    Objects.requireNonNull(key, "key");
    if (cost < 1 || cost > burst) {
      throw new IllegalArgumentException(
          "cost must be in [1, burst=" + burst + "] but was " + cost);
    }
    long increment = cost * interval;
    Object[] ls = listeners.array();
    if (local) {
      try {
        return CompletableFuture.completedFuture(ls.length != 0
            ? reported(key, increment, ls)
            : memory != null
            ? memory.acquire(key, increment, tolerance, this)
            : decision(store.acquire(key, increment, tolerance), increment));
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
        RateLimitDecision d = decision(outcome, increment);
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

  private RateLimitDecision decision(RateLimitStore.Outcome outcome, long increment) {
    return decision(outcome.allowed(), outcome.tatNanos(), outcome.nowNanos(), increment);
  }

  /**
   * Turns one store step into a decision.
   *
   * @param allowed whether the step was allowed
   * @param tat the TAT after the step
   * @param now the time of the step
   * @param increment the step's increment
   * @return the decision
   */
  RateLimitDecision decision(boolean allowed, long tat, long now, long increment) {
    long owed = Math.max(0, tat - now);
    long remaining = Math.max(0, tolerance - owed) / interval;
    long retryAfter = allowed ? 0 : Math.max(1, tat + increment - tolerance - now);
    return new RateLimitDecision(allowed, limit, remaining, retryAfter, owed, periodNanos, name);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int limit() {
    return limit;
  }

  @Override
  public Duration period() {
    return period;
  }

  @Override
  public int burst() {
    return burst;
  }

  @Override
  public Duration emissionInterval() {
    return Duration.ofNanos(interval);
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
    return "RateLimiter[" + name + ": " + limit + " per " + period + ", burst " + burst + "]";
  }
}
