package dev.sluice.servlet.internal;

import dev.sluice.NanoClock;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * Logs a recurring condition at most once per interval, with how many times it was suppressed.
 * Thread-safe.
 */
public final class ThrottledLog {
  private final Logger log;
  private final NanoClock clock;
  private final long intervalNanos;
  private final AtomicLong nextAllowed;
  private final AtomicLong suppressed = new AtomicLong();

  /**
   * Creates a throttle.
   *
   * @param log the logger
   * @param clock the clock
   * @param intervalNanos the least time between two lines
   */
  public ThrottledLog(Logger log, NanoClock clock, long intervalNanos) {
    this.log = log;
    this.clock = clock;
    this.intervalNanos = intervalNanos;
    this.nextAllowed = new AtomicLong(clock.nanoTime());
  }

  /**
   * Logs a warning unless one was logged within the interval.
   *
   * @param message the message
   * @param cause the failure, may be null
   * @return true if this call logged
   */
  public boolean warn(String message, Throwable cause) {
    long now = clock.nanoTime();
    long next = nextAllowed.get();
    if (now - next < 0 || !nextAllowed.compareAndSet(next, now + intervalNanos)) {
      suppressed.incrementAndGet();
      return false;
    }
    long skipped = suppressed.getAndSet(0);
    String suffix = skipped == 0 ? "" : " (" + skipped + " similar suppressed)";
    log.warn(message + suffix, cause);
    return true;
  }
}
