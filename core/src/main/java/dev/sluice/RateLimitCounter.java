package dev.sluice;

import dev.sluice.internal.SlidingWindow;
import java.time.Duration;
import java.util.Objects;

/**
 * Counts a rate limiter's allowed and refused decisions over a sliding window, for
 * {@link HealthContributors#rateLimiter(RateLimitCounter)}. Feed it by wrapping the limiter with
 * {@link #wrap(RateLimiter)}, or by passing it decisions with {@link #record(RateLimitDecision)}.
 *
 * <pre>{@code
 * RateLimitCounter chatCounts = RateLimitCounter.create("chat");
 * RateLimiter<String> chat = chatCounts.wrap(RateLimiter.builder().name("chat")
 *     .limit(5, Duration.ofMinutes(1)).build());
 * }</pre>
 *
 * <p>Thread-safe. Memory is a fixed ring of 12 buckets.
 */
public final class RateLimitCounter {
  private final String name;
  private final Duration window;
  private final NanoClock clock;
  private final SlidingWindow counts;

  private RateLimitCounter(String name, Duration window, NanoClock clock) {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("name must be non-blank but was " + name);
    }
    this.name = name;
    this.window = CircuitBreaker.Builder.requireAtLeastMillis("window", window);
    this.clock = Objects.requireNonNull(clock, "clock");
    this.counts = new SlidingWindow(window.toNanos(), 12, clock.nanoTime());
  }

  /**
   * A counter over the last minute, on the system clock.
   *
   * @param name the limiter's name, shown in health reports
   * @return a new counter
   * @throws IllegalArgumentException if {@code name} is null or blank
   */
  public static RateLimitCounter create(String name) {
    return create(name, Duration.ofMinutes(1), NanoClock.system());
  }

  /**
   * A counter over a given window.
   *
   * @param name the limiter's name
   * @param window the window, &gt;= 1 ms
   * @param clock the clock
   * @return a new counter
   * @throws IllegalArgumentException if {@code name} is blank or {@code window} below 1 ms
   * @throws NullPointerException if {@code clock} is null
   */
  public static RateLimitCounter create(String name, Duration window, NanoClock clock) {
    return new RateLimitCounter(name, window, clock);
  }

  /**
   * Counts one decision.
   *
   * @param allowed whether the limiter allowed the request
   */
  public void record(boolean allowed) {
    long now = clock.nanoTime();
    synchronized (counts) {
      counts.record(now, allowed);
    }
  }

  /**
   * Counts one decision.
   *
   * @param decision the limiter's decision
   * @throws NullPointerException if {@code decision} is null
   */
  public void record(RateLimitDecision decision) {
    record(Objects.requireNonNull(decision, "decision").allowed());
  }

  /**
   * Wraps a limiter so every decision it makes is counted here. The wrapper behaves exactly like
   * the limiter otherwise; the limiter itself is not changed.
   *
   * @param <K> the key type
   * @param limiter the limiter
   * @return a counting view of it
   * @throws NullPointerException if {@code limiter} is null
   */
  public <K> RateLimiter<K> wrap(RateLimiter<K> limiter) {
    return new CountingRateLimiter<>(Objects.requireNonNull(limiter, "limiter"), this);
  }

  /**
   * Decisions in the window, as successes (allowed) and failures (refused).
   *
   * @return the counts, named after this counter
   */
  public ErrorStats stats() {
    long now = clock.nanoTime();
    long[] totals;
    synchronized (counts) {
      totals = counts.totals(now);
    }
    return new ErrorStats(name, totals[0], totals[1]);
  }

  /**
   * The limiter's name.
   *
   * @return the name
   */
  public String name() {
    return name;
  }

  /**
   * The window.
   *
   * @return the window
   */
  public Duration window() {
    return window;
  }
}
