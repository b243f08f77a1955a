package dev.sluice.internal;

import dev.sluice.NanoClock;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Spaces calls evenly: GCRA with a burst of one, where a caller that is early reserves the next free
 * slot and is told how long to wait for it instead of being refused. Lock-free and thread-safe.
 */
public final class Pacer {
  private final long intervalNanos;
  private final NanoClock clock;
  /** The theoretical arrival time: the earliest time the next call may start. */
  private final AtomicLong tat;

  /**
   * Creates a pacer whose first call may start at once.
   *
   * @param intervalNanos the spacing between calls, &gt; 0
   * @param clock the time source
   */
  public Pacer(long intervalNanos, NanoClock clock) {
    this.intervalNanos = intervalNanos;
    this.clock = clock;
    this.tat = new AtomicLong(clock.nanoTime());
  }

  /**
   * Reserves the next slot if it starts within {@code maxWaitNanos}.
   *
   * @param maxWaitNanos the longest acceptable wait
   * @return the wait in nanoseconds (&gt;= 0) when reserved; otherwise the negated wait that would
   *     have been needed (&lt; 0), and nothing is reserved
   */
  public long reserve(long maxWaitNanos) {
    while (true) {
      long now = clock.nanoTime();
      long current = tat.get();
      long start = current - now > 0 ? current : now;
      long wait = start - now;
      if (wait > maxWaitNanos) {
        return -wait;
      }
      if (tat.compareAndSet(current, start + intervalNanos)) {
        return wait;
      }
    }
  }

  /**
   * How long a caller arriving now would wait.
   *
   * @return the backlog in nanoseconds, &gt;= 0
   */
  public long backlogNanos() {
    return Math.max(0, tat.get() - clock.nanoTime());
  }

  /**
   * The spacing between calls.
   *
   * @return the interval in nanoseconds
   */
  public long intervalNanos() {
    return intervalNanos;
  }
}
