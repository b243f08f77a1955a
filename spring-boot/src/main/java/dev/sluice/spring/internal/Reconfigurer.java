package dev.sluice.spring.internal;

import dev.sluice.CircuitBreaker;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import java.time.Duration;

/**
 * Applies new settings to a running limiter, queue or breaker, for the actuator endpoint's write
 * operation. The endpoint merges a partial change with the current settings and passes complete
 * values; an implementation applies them atomically or throws.
 *
 * <p>Core's runtime reconfiguration API ({@code RateLimiter.reconfigure(RateLimiter.Settings)},
 * {@code RequestQueue.reconfigure(RequestQueue.Settings)}, the circuit breaker's equivalent) is
 * wired in behind this interface by {@link #core()}; {@link #unsupported()} refuses every change
 * (for an application that wants the endpoint read-only).
 *
 * <p>Implementations must be thread-safe.
 */
public interface Reconfigurer {

  /**
   * Changes a rate limiter.
   *
   * @param limiter the limiter
   * @param limit calls per period, &gt;= 1
   * @param period the period, &gt; 0
   * @param burst calls at once, &gt;= 1
   * @throws IllegalArgumentException if a value is out of range
   * @throws UnsupportedOperationException if runtime changes are not available
   */
  void rateLimiter(RateLimiter<?> limiter, int limit, Duration period, int burst);

  /**
   * Changes a request queue.
   *
   * @param queue the queue
   * @param maxConcurrent the global cap, &gt;= 1
   * @param maxConcurrentPerKey the per-key cap, in [1, maxConcurrent]
   * @param maxQueued the bound on waiters, &gt;= 0
   * @param timeout the longest wait, &gt; 0
   * @throws IllegalArgumentException if a value is out of range
   * @throws UnsupportedOperationException if runtime changes are not available
   */
  void requestQueue(RequestQueue<?> queue, int maxConcurrent, int maxConcurrentPerKey,
      int maxQueued, Duration timeout);

  /**
   * Changes a circuit breaker; null leaves a setting as it is.
   *
   * @param breaker the breaker
   * @param failureThreshold consecutive failures that open it, or null
   * @param openDuration how long it stays open, or null
   * @param halfOpenProbes probe calls while half-open, or null
   * @throws IllegalArgumentException if a value is out of range
   * @throws UnsupportedOperationException if runtime changes are not available
   */
  void circuitBreaker(CircuitBreaker breaker, Integer failureThreshold, Duration openDuration,
      Integer halfOpenProbes);

  /**
   * The reconfigurer over core's runtime reconfiguration API: {@link RateLimiter#reconfigure},
   * {@link RequestQueue#reconfigure} and {@link CircuitBreaker#reconfigure}, each of which logs
   * the change at INFO with old and new settings.
   *
   * @return the reconfigurer
   */
  static Reconfigurer core() {
    return new Reconfigurer() {
      @Override
      public void rateLimiter(RateLimiter<?> limiter, int limit, Duration period, int burst) {
        limiter.reconfigure(new RateLimiter.Settings(limit, period, burst));
      }

      @Override
      public void requestQueue(RequestQueue<?> queue, int maxConcurrent,
          int maxConcurrentPerKey, int maxQueued, Duration timeout) {
        queue.reconfigure(
            new RequestQueue.Settings(maxConcurrent, maxConcurrentPerKey, maxQueued, timeout));
      }

      @Override
      public void circuitBreaker(CircuitBreaker breaker, Integer failureThreshold,
          Duration openDuration, Integer halfOpenProbes) {
        CircuitBreaker.Settings next = breaker.settings();
        if (failureThreshold != null) {
          next = next.withFailureThreshold(failureThreshold);
        }
        if (openDuration != null) {
          next = next.withOpenDuration(openDuration);
        }
        if (halfOpenProbes != null) {
          next = next.withHalfOpenProbes(halfOpenProbes);
        }
        breaker.reconfigure(next);
      }
    };
  }

  /**
   * A reconfigurer that refuses every change, for a core without runtime reconfiguration.
   *
   * @return the refusing reconfigurer
   */
  static Reconfigurer unsupported() {
    return new Reconfigurer() {
      @Override
      public void rateLimiter(RateLimiter<?> limiter, int limit, Duration period, int burst) {
        throw refused();
      }

      @Override
      public void requestQueue(RequestQueue<?> queue, int maxConcurrent,
          int maxConcurrentPerKey, int maxQueued, Duration timeout) {
        throw refused();
      }

      @Override
      public void circuitBreaker(CircuitBreaker breaker, Integer failureThreshold,
          Duration openDuration, Integer halfOpenProbes) {
        throw refused();
      }

      private UnsupportedOperationException refused() {
        return new UnsupportedOperationException(
            "this sluice-core cannot change settings at run time; change the sluice.* "
                + "properties and restart");
      }
    };
  }
}
