package dev.sluice;

/**
 * A monotonic time source in nanoseconds, injected into every time-dependent Sluice primitive so
 * tests can move time by hand instead of sleeping.
 *
 * <p>Values only have meaning relative to each other (like {@link System#nanoTime()}). Sluice
 * compares them by subtraction, so any origin, including negative values, works.
 *
 * <pre>{@code
 * AtomicLong now = new AtomicLong();
 * RateLimiter<String> limiter = RateLimiter.builder()
 *     .limit(5, Duration.ofMinutes(1))
 *     .clock(now::get)
 *     .build();
 * }</pre>
 *
 * <p>Implementations must be thread-safe.
 */
@FunctionalInterface
public interface NanoClock {

  /**
   * Reads the clock.
   *
   * @return the current time in nanoseconds from an arbitrary, fixed origin
   */
  long nanoTime();

  /**
   * The system's monotonic clock.
   *
   * @return a clock backed by {@link System#nanoTime()}
   */
  static NanoClock system() {
    return System::nanoTime;
  }
}
