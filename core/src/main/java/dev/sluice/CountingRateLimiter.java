package dev.sluice;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** A {@link RateLimiter} that reports each decision to a {@link RateLimitCounter}. */
final class CountingRateLimiter<K> implements RateLimiter<K> {
  private final RateLimiter<K> delegate;
  private final RateLimitCounter counter;

  CountingRateLimiter(RateLimiter<K> delegate, RateLimitCounter counter) {
    this.delegate = delegate;
    this.counter = counter;
  }

  @Override
  public RateLimitDecision tryAcquire(K key) {
    RateLimitDecision d = delegate.tryAcquire(key);
    counter.record(key, d.allowed());
    return d;
  }

  @Override
  public RateLimitDecision tryAcquire(K key, int cost) {
    RateLimitDecision d = delegate.tryAcquire(key, cost);
    counter.record(key, d.allowed());
    return d;
  }

  @Override
  public boolean tryAcquirePermit(K key) {
    boolean allowed = delegate.tryAcquirePermit(key);
    counter.record(key, allowed);
    return allowed;
  }

  @Override
  public CompletionStage<RateLimitDecision> tryAcquireAsync(K key, int cost) {
    // Completed by hand rather than by whenComplete, which would wrap a store failure in a
    // CompletionException.
    CompletableFuture<RateLimitDecision> result = new CompletableFuture<>();
    delegate.tryAcquireAsync(key, cost).whenComplete((d, failure) -> {
      if (failure != null) {
        result.completeExceptionally(failure);
      } else {
        counter.record(key, d.allowed());
        result.complete(d);
      }
    });
    return result;
  }

  @Override
  public void addListener(RateLimiterListener<? super K> listener) {
    delegate.addListener(listener);
  }

  @Override
  public boolean isLocal() {
    return delegate.isLocal();
  }

  @Override
  public String name() {
    return delegate.name();
  }

  @Override
  public int limit() {
    return delegate.limit();
  }

  @Override
  public Duration period() {
    return delegate.period();
  }

  @Override
  public int burst() {
    return delegate.burst();
  }

  @Override
  public Duration emissionInterval() {
    return delegate.emissionInterval();
  }

  @Override
  public Settings settings() {
    return delegate.settings();
  }

  @Override
  public Settings reconfigure(Settings settings) {
    return delegate.reconfigure(settings);
  }

  @Override
  public String toString() {
    return "Counting" + delegate;
  }
}
