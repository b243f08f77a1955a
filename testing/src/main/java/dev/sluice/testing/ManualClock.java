package dev.sluice.testing;

import dev.sluice.NanoClock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link NanoClock} moved by hand. Inject it wherever Sluice takes a clock, then
 * {@link #advance} it instead of sleeping.
 *
 * <pre>{@code
 * ManualClock clock = new ManualClock();
 * RateLimiter<String> limiter = RateLimiter.builder()
 *     .limit(5, Duration.ofMinutes(1)).clock(clock).build();
 * // ... five calls allowed, the sixth refused ...
 * clock.advance(Duration.ofSeconds(12));   // one emission interval later: one more allowed
 * }</pre>
 *
 * <p>By default the clock only moves when told to. A {@linkplain #ticking(long) ticking} clock
 * also moves by a fixed step after every read, as a real clock does between two reads: code that
 * reads the clock twice within one decision then sees two different times, which a clock that
 * only moves by hand hides.
 *
 * <p>Both kinds start at an arbitrary negative origin, because {@link NanoClock} values only have
 * meaning relative to each other and code that assumes an origin of zero is a bug this exposes.
 *
 * <p>Thread-safe.
 */
public final class ManualClock implements NanoClock {
  /** The default origin: negative and far from zero, so origin assumptions fail loudly. */
  public static final long DEFAULT_ORIGIN = -1_000_000_000_000L;

  private final AtomicLong now;
  private final AtomicLong reads = new AtomicLong();
  private final long tickNanos;

  /** A clock at {@link #DEFAULT_ORIGIN} that moves only when told to. */
  public ManualClock() {
    this(DEFAULT_ORIGIN, 0);
  }

  private ManualClock(long origin, long tickNanos) {
    this.now = new AtomicLong(origin);
    this.tickNanos = tickNanos;
  }

  /**
   * A clock at {@code origin} that moves only when told to.
   *
   * @param origin the first value {@link #nanoTime()} returns
   * @return the clock
   */
  public static ManualClock startingAt(long origin) {
    return new ManualClock(origin, 0);
  }

  /**
   * A clock at {@link #DEFAULT_ORIGIN} that, besides moving when told to, moves by
   * {@code tickNanos} after every read: each {@link #nanoTime()} returns the current time and
   * then advances it.
   *
   * @param tickNanos the advance per read, &gt;= 1
   * @return the clock
   * @throws IllegalArgumentException if {@code tickNanos} is less than 1
   */
  public static ManualClock ticking(long tickNanos) {
    if (tickNanos < 1) {
      throw new IllegalArgumentException("tickNanos must be >= 1 but was " + tickNanos);
    }
    return new ManualClock(DEFAULT_ORIGIN, tickNanos);
  }

  /**
   * Reads the clock; a ticking clock then moves by its tick.
   *
   * @return the current time
   */
  @Override
  public long nanoTime() {
    reads.incrementAndGet();
    return tickNanos == 0 ? now.get() : now.getAndAdd(tickNanos);
  }

  /**
   * The time the next {@link #nanoTime()} will return, without reading the clock: not counted
   * in {@link #reads()}, and a ticking clock does not tick.
   *
   * @return the current time
   */
  public long peek() {
    return now.get();
  }

  /**
   * How many times {@link #nanoTime()} was called.
   *
   * @return the number of reads so far
   */
  public long reads() {
    return reads.get();
  }

  /**
   * The advance per read: 0 unless this clock is {@linkplain #ticking(long) ticking}.
   *
   * @return the tick in nanoseconds
   */
  public long tickNanos() {
    return tickNanos;
  }

  /**
   * Moves the clock forward without reading it.
   *
   * @param duration how far, &gt;= 0
   * @throws NullPointerException if {@code duration} is null
   * @throws IllegalArgumentException if {@code duration} is negative: a monotonic clock never
   *     goes back
   */
  public void advance(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    if (duration.isNegative()) {
      throw new IllegalArgumentException("a monotonic clock never goes back, but duration was "
          + duration);
    }
    advanceNanos(duration.toNanos());
  }

  /**
   * Moves the clock forward without reading it.
   *
   * @param nanos how far, &gt;= 0
   * @throws IllegalArgumentException if {@code nanos} is negative: a monotonic clock never goes
   *     back
   */
  public void advanceNanos(long nanos) {
    if (nanos < 0) {
      throw new IllegalArgumentException("a monotonic clock never goes back, but nanos was "
          + nanos);
    }
    now.addAndGet(nanos);
  }

  @Override
  public String toString() {
    return "ManualClock[now=" + now.get() + (tickNanos == 0 ? "" : ", tick=" + tickNanos) + "]";
  }
}
