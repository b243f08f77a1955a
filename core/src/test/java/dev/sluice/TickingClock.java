package dev.sluice;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A fake clock that moves on every read, as a real one does: each read returns the current time
 * and then advances it by the tick. Code that reads the clock twice within one decision sees two
 * different times here, which a clock that only moves by hand hides. Starts at an arbitrary
 * negative origin to catch origin assumptions.
 */
public final class TickingClock implements NanoClock {
  private final AtomicLong next = new AtomicLong(-7_000_000_000_000L);
  private final AtomicLong reads = new AtomicLong();
  private final long tickNanos;

  /**
   * A clock advancing by {@code tickNanos} after each read.
   *
   * @param tickNanos the advance per read, &gt;= 1
   */
  public TickingClock(long tickNanos) {
    if (tickNanos < 1) {
      throw new IllegalArgumentException("tickNanos must be >= 1 but was " + tickNanos);
    }
    this.tickNanos = tickNanos;
  }

  @Override
  public long nanoTime() {
    reads.incrementAndGet();
    return next.getAndAdd(tickNanos);
  }

  /** The time the next read will return. */
  public long peek() {
    return next.get();
  }

  /** Reads so far. */
  public long reads() {
    return reads.get();
  }

  /** Moves the time forward without a read. */
  public void advance(Duration d) {
    advanceNanos(d.toNanos());
  }

  /** Moves the time forward without a read. */
  public void advanceNanos(long nanos) {
    next.addAndGet(nanos);
  }
}
