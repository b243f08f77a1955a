package dev.sluice;

import java.time.Duration;

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
  public String toString() {
    return "Counting" + delegate;
  }
}
