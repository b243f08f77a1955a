package dev.sluice;

import java.time.Duration;
import java.util.Objects;

/**
 * The answer of a {@link RateLimiter}: whether the call may proceed, plus the figures an HTTP
 * response needs ({@code Retry-After}, {@code RateLimit-Policy}, {@code RateLimit}).
 *
 * <p>Durations are kept as nanoseconds so a decision costs one small object; {@link #retryAfter()}
 * and {@link #resetAfter()} give them as {@link Duration}s.
 *
 * <p>Immutable and thread-safe.
 *
 * @param allowed whether the call may proceed
 * @param limit the configured number of calls per {@link #window()}
 * @param remaining how many more calls of cost 1 would be allowed right now, after this one
 * @param retryAfterNanos zero when allowed; otherwise how long until this same call (same cost)
 *     would be allowed
 * @param resetAfterNanos how long until the key's bucket is full again (zero when it already is)
 * @param windowNanos the configured period of the limit, in nanoseconds
 * @param policy the limiter's policy name, for headers and logs
 */
public record RateLimitDecision(
    boolean allowed,
    int limit,
    long remaining,
    long retryAfterNanos,
    long resetAfterNanos,
    long windowNanos,
    String policy) {

  /**
   * Validates the figures.
   *
   * @param allowed whether the call may proceed
   * @param limit the configured number of calls per window
   * @param remaining calls of cost 1 still allowed now
   * @param retryAfterNanos zero when allowed, else the wait for this same call
   * @param resetAfterNanos the time until the bucket is full again
   * @param windowNanos the configured period
   * @param policy the policy name
   * @throws IllegalArgumentException if a figure is negative, or an allowed decision has a
   *     non-zero retry-after
   * @throws NullPointerException if {@code policy} is null
   */
  public RateLimitDecision {
    Objects.requireNonNull(policy, "policy");
    if (limit <= 0) {
      throw new IllegalArgumentException("limit must be > 0 but was " + limit);
    }
    if (remaining < 0) {
      throw new IllegalArgumentException("remaining must be >= 0 but was " + remaining);
    }
    if (retryAfterNanos < 0 || (allowed && retryAfterNanos != 0)) {
      throw new IllegalArgumentException(
          "retryAfterNanos must be 0 when allowed and >= 0 otherwise but was " + retryAfterNanos);
    }
    if (resetAfterNanos < 0) {
      throw new IllegalArgumentException("resetAfterNanos must be >= 0 but was " + resetAfterNanos);
    }
    if (windowNanos <= 0) {
      throw new IllegalArgumentException("windowNanos must be > 0 but was " + windowNanos);
    }
  }

  /**
   * How long to wait before retrying the same call.
   *
   * @return {@link Duration#ZERO} when allowed, otherwise the exact wait
   */
  public Duration retryAfter() {
    return Duration.ofNanos(retryAfterNanos);
  }

  /**
   * How long until the key's bucket is full again.
   *
   * @return the time until a full burst is available
   */
  public Duration resetAfter() {
    return Duration.ofNanos(resetAfterNanos);
  }

  /**
   * The configured period of the limit.
   *
   * @return the window in which {@link #limit()} calls are allowed
   */
  public Duration window() {
    return Duration.ofNanos(windowNanos);
  }

  /**
   * {@link #retryAfter()} in whole seconds, rounded up, as HTTP's {@code Retry-After} wants it.
   *
   * @return 0 when allowed, otherwise at least 1
   */
  public long retryAfterSeconds() {
    return ceilSeconds(retryAfterNanos);
  }

  /**
   * {@link #resetAfter()} in whole seconds, rounded up, as the {@code RateLimit} header's
   * {@code t} parameter wants it.
   *
   * @return the reset time in seconds
   */
  public long resetAfterSeconds() {
    return ceilSeconds(resetAfterNanos);
  }

  /**
   * {@link #window()} in whole seconds, rounded up, as the {@code RateLimit-Policy} header's
   * {@code w} parameter wants it.
   *
   * @return the window in seconds
   */
  public long windowSeconds() {
    return ceilSeconds(windowNanos);
  }

  private static long ceilSeconds(long nanos) {
    return nanos / 1_000_000_000L + (nanos % 1_000_000_000L == 0 ? 0 : 1);
  }
}
