package dev.sluice.internal;

/**
 * Success and failure counts over a sliding time window, kept in a fixed ring of buckets so memory
 * does not grow with traffic. A bucket older than the window is cleared when its slot is reused.
 * Times are compared by subtraction from a fixed origin, so clocks with any origin work.
 *
 * <p>Not thread-safe: callers hold a lock.
 */
public final class SlidingWindow {
  private final long origin;
  private final long bucketNanos;
  private final long[] epochs;
  private final long[] successes;
  private final long[] failures;

  /**
   * Creates an empty window.
   *
   * @param windowNanos the window length, &gt; 0
   * @param buckets the number of buckets, &gt;= 1; the window moves in steps of
   *     {@code windowNanos / buckets}
   * @param now the current time, used as the origin
   */
  public SlidingWindow(long windowNanos, int buckets, long now) {
    this.origin = now;
    this.bucketNanos = Math.max(1, windowNanos / buckets);
    this.epochs = new long[buckets];
    this.successes = new long[buckets];
    this.failures = new long[buckets];
    java.util.Arrays.fill(epochs, Long.MIN_VALUE);
  }

  /**
   * Counts one outcome.
   *
   * @param now the current time
   * @param success whether the outcome was a success
   */
  public void record(long now, boolean success) {
    int slot = slot(now);
    if (success) {
      successes[slot]++;
    } else {
      failures[slot]++;
    }
  }

  /**
   * Sums the outcomes inside the window.
   *
   * @param now the current time
   * @return {successes, failures}
   */
  public long[] totals(long now) {
    long epoch = epoch(now);
    long s = 0;
    long f = 0;
    for (int i = 0; i < epochs.length; i++) {
      long age = epoch - epochs[i];
      if (epochs[i] != Long.MIN_VALUE && age >= 0 && age < epochs.length) {
        s += successes[i];
        f += failures[i];
      }
    }
    return new long[] {s, f};
  }

  /** Forgets every outcome. */
  public void clear() {
    java.util.Arrays.fill(epochs, Long.MIN_VALUE);
    java.util.Arrays.fill(successes, 0);
    java.util.Arrays.fill(failures, 0);
  }

  private long epoch(long now) {
    return Math.floorDiv(now - origin, bucketNanos);
  }

  private int slot(long now) {
    long epoch = epoch(now);
    int slot = (int) Math.floorMod(epoch, (long) epochs.length);
    if (epochs[slot] != epoch) {
      epochs[slot] = epoch;
      successes[slot] = 0;
      failures[slot] = 0;
    }
    return slot;
  }
}
