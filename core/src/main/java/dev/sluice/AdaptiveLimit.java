package dev.sluice;

import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;

/**
 * The configuration of an adaptive concurrency limit for a {@link RequestQueue}: instead of a fixed
 * {@code maxConcurrent}, the queue's global cap follows the latency of the work it admits, between
 * a floor and a ceiling, and lower priority classes are shed first when it falls.
 *
 * <pre>{@code
 * RequestQueue<String> queue = RequestQueue.builder()
 *     .name("chat-service")
 *     .priorities("chat", "research", "export")           // highest first
 *     .adaptiveLimit(AdaptiveLimit.gradient()
 *         .min(4).initial(20).max(200)                    // floor, start, ceiling
 *         .tolerance(0.10)                                // accept 10 % above no-load latency
 *         .shares(1.0, 0.8, 0.5)                          // export may use half the limit
 *         .build())
 *     .maxConcurrentPerKey(2)
 *     .build();
 * }</pre>
 *
 * <p><b>The algorithm: a gradient on the no-load latency.</b> Each permit's hold time (from
 * admission to {@link RequestQueue.Permit#close()}, on the queue's clock) is one sample. The queue
 * keeps the no-load latency, the smallest sample over the last {@link Builder#rttWindow(Duration)
 * rttWindow} (kept over two such windows, so a backend that became slower for good is followed
 * after at most two windows). Samples are averaged over windows of at least ten samples and at
 * least one no-load latency; at the end of each window
 * <pre>
 *   gradient = clamp((1 + tolerance) * noLoad / average, 0.5, 1.0)
 *   limit    = clamp(limit * gradient + 1, min, max)
 * </pre>
 * so the limit grows by one per window while latency stays within the tolerance (only if the
 * window used at least half the limit: idle capacity says nothing about the next permit), and
 * shrinks in proportion to the excess when it does not, by at most half per window. Its fixed
 * point is where latency has risen by {@code tolerance + 1/limit} over no load: just past the knee
 * where the backend starts queueing. This is Netflix concurrency-limits' Gradient2 with its
 * long-term average replaced by a minimum; Gradient2's average follows the latency it causes
 * upwards (its documented drift), so its limit settles well past the knee, which the simulation
 * test shows side by side. Vegas needs a queue-size threshold in requests, which depends on the
 * backend; a relative latency tolerance does not. The minimum is sensitive to jitter: keep
 * {@code tolerance} above the backend's ordinary spread of latency (the default, 10 %, suits a
 * spread of about ±5 %).
 *
 * <p><b>Priorities.</b> Admission keeps the queue's strict priority order (keys taking turns
 * within a class, per-key caps), so when the limit falls and permits become scarce, every freed
 * permit goes to the highest class with an eligible waiter: the lowest class waits longest and is
 * shed first (timed out, or refused once the wait queue is full), and the highest keeps its
 * service. Lowering the limit never takes a permit back from running work. That is the default,
 * and it is work-conserving: any class may use the whole limit while no higher class wants it.
 *
 * <p>{@link Builder#shares(double...) Shares} add a reservation: class {@code i} is admitted only
 * while fewer than {@code max(1, floor(limit × share(i)))} permits are held, the highest class's
 * share being 1. Then a burst of the highest class finds free permits at once instead of waiting
 * for lower-class work to finish (useful when that work is long). The price: the reserved
 * headroom idles while the higher classes do not use it, so the backend sees less work than the
 * limit, latency stays low, and the limit settles above the knee by about the idle headroom. The
 * work actually in flight still settles at the knee (the simulation test shows both).
 *
 * <p>Immutable and thread-safe; one configuration may serve several queues, each adapting on its
 * own.
 */
public final class AdaptiveLimit {
  private final int min;
  private final int max;
  private final int initial;
  private final double tolerance;
  private final Duration rttWindow;
  private final double[] shares;
  private final Listener listener;

  private AdaptiveLimit(Builder b) {
    this.min = b.min;
    this.max = b.max;
    this.initial = b.initial == 0 ? Math.max(b.min, Math.min(b.max, 20)) : b.initial;
    this.tolerance = b.tolerance;
    this.rttWindow = b.rttWindow;
    this.shares = b.shares == null ? null : b.shares.clone();
    this.listener = b.listener;
  }

  /**
   * Starts a builder for the gradient algorithm described above.
   *
   * @return a builder with defaults: min 1, max 200, initial 20 (within min and max), tolerance
   *     0.10, rttWindow 30 s, every class's share 1, no listener
   */
  public static Builder gradient() {
    return new Builder();
  }

  /**
   * The floor of the limit.
   *
   * @return the smallest limit, &gt;= 1
   */
  public int min() {
    return min;
  }

  /**
   * The ceiling of the limit.
   *
   * @return the largest limit
   */
  public int max() {
    return max;
  }

  /**
   * The limit before the first sample.
   *
   * @return the initial limit, within {@link #min()} and {@link #max()}
   */
  public int initial() {
    return initial;
  }

  /**
   * The accepted latency increase over no load, as a fraction.
   *
   * @return the tolerance, &gt; 0
   */
  public double tolerance() {
    return tolerance;
  }

  /**
   * How long one minimum of the no-load latency is kept.
   *
   * @return the window
   */
  public Duration rttWindow() {
    return rttWindow;
  }

  /**
   * The share of the limit each priority class may use, for a queue with {@code classes} classes:
   * the configured shares, or by default 1 for every class.
   *
   * @param classes the queue's number of priority classes, &gt;= 1
   * @return a new array of {@code classes} shares, highest class first
   * @throws IllegalArgumentException if shares were configured for another number of classes
   */
  public double[] shares(int classes) {
    if (shares != null) {
      if (shares.length != classes) {
        throw new IllegalArgumentException("adaptiveLimit has " + shares.length
            + " shares but the queue declares " + classes + " priority classes");
      }
      return shares.clone();
    }
    double[] s = new double[classes];
    Arrays.fill(s, 1.0);
    return s;
  }

  /**
   * The listener told of each change of the limit.
   *
   * @return the listener, or null if none
   */
  public Listener listener() {
    return listener;
  }

  @Override
  public String toString() {
    return "AdaptiveLimit[gradient, min " + min + ", initial " + initial + ", max " + max
        + ", tolerance " + tolerance + ", rttWindow " + rttWindow + ", shares "
        + (shares == null ? "default" : Arrays.toString(shares)) + "]";
  }

  /**
   * Told each time a queue's adaptive limit changes. Called on the thread that closed the permit
   * whose sample changed it, after the queue's lock is released; keep it short and let it not
   * throw (what it throws is not caught for it: it reaches that {@code close()}).
   */
  @FunctionalInterface
  public interface Listener {
    /**
     * The limit changed.
     *
     * @param queue the queue's name
     * @param from the previous limit
     * @param to the new limit
     */
    void onLimitChange(String queue, int from, int to);
  }

  /**
   * Builds an {@link AdaptiveLimit}; each setter validates at once, {@link #build()} checks the
   * combination. Not thread-safe.
   */
  public static final class Builder {
    private int min = 1;
    private int max = 200;
    private int initial;
    private double tolerance = 0.10;
    private Duration rttWindow = Duration.ofSeconds(30);
    private double[] shares;
    private Listener listener;

    Builder() {}

    /**
     * Sets the floor of the limit. Defaults to 1.
     *
     * @param min the floor, &gt;= 1
     * @return this builder
     * @throws IllegalArgumentException if {@code min} &lt; 1
     */
    public Builder min(int min) {
      if (min < 1) {
        throw new IllegalArgumentException("min must be >= 1 but was " + min);
      }
      this.min = min;
      return this;
    }

    /**
     * Sets the ceiling of the limit, which is also the queue's {@code maxConcurrent} bound.
     * Defaults to 200.
     *
     * @param max the ceiling, &gt;= 1
     * @return this builder
     * @throws IllegalArgumentException if {@code max} &lt; 1
     */
    public Builder max(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("max must be >= 1 but was " + max);
      }
      this.max = max;
      return this;
    }

    /**
     * Sets the limit before the first sample. Defaults to 20, moved into [min, max].
     *
     * @param initial the initial limit, &gt;= 1
     * @return this builder
     * @throws IllegalArgumentException if {@code initial} &lt; 1
     */
    public Builder initial(int initial) {
      if (initial < 1) {
        throw new IllegalArgumentException("initial must be >= 1 but was " + initial);
      }
      this.initial = initial;
      return this;
    }

    /**
     * Sets how much latency may rise over no load before the limit falls, as a fraction (0.10 is
     * 10 %). Defaults to 0.10.
     *
     * @param tolerance the fraction, &gt; 0 and &lt;= 10
     * @return this builder
     * @throws IllegalArgumentException if {@code tolerance} is not in (0, 10]
     */
    public Builder tolerance(double tolerance) {
      if (!(tolerance > 0 && tolerance <= 10)) {
        throw new IllegalArgumentException("tolerance must be in (0, 10] but was " + tolerance);
      }
      this.tolerance = tolerance;
      return this;
    }

    /**
     * Sets how long one minimum of the no-load latency is kept. Defaults to 30 s.
     *
     * @param rttWindow the window, &gt; 0
     * @return this builder
     * @throws IllegalArgumentException if {@code rttWindow} is null, zero, negative or too long
     *     to count in nanoseconds
     */
    public Builder rttWindow(Duration rttWindow) {
      if (rttWindow == null || rttWindow.isZero() || rttWindow.isNegative()) {
        throw new IllegalArgumentException("rttWindow must be > 0 but was " + rttWindow);
      }
      try {
        rttWindow.toNanos();
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("rttWindow is too long: " + rttWindow, e);
      }
      this.rttWindow = rttWindow;
      return this;
    }

    /**
     * Sets the share of the limit each priority class may use, one per class of the queue,
     * highest class first. The first must be 1 and none may exceed the one before.
     *
     * @param shares the shares, each in (0, 1]
     * @return this builder
     * @throws IllegalArgumentException if none is given, the first is not 1, one is outside
     *     (0, 1] or one exceeds the one before
     */
    public Builder shares(double... shares) {
      if (shares == null || shares.length == 0) {
        throw new IllegalArgumentException("shares must name at least one share");
      }
      if (shares[0] != 1.0) {
        throw new IllegalArgumentException(
            "shares must start with 1.0 (the highest class) but started with " + shares[0]);
      }
      for (int i = 1; i < shares.length; i++) {
        if (!(shares[i] > 0 && shares[i] <= shares[i - 1])) {
          throw new IllegalArgumentException("shares must be in (0, 1] and non-increasing but "
              + "share " + i + " was " + shares[i] + " after " + shares[i - 1]);
        }
      }
      this.shares = shares.clone();
      return this;
    }

    /**
     * Sets a listener told of each change of the limit.
     *
     * @param listener the listener
     * @return this builder
     * @throws NullPointerException if {@code listener} is null
     */
    public Builder listener(Listener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /**
     * Builds the configuration.
     *
     * @return an immutable configuration
     * @throws IllegalArgumentException if {@code min} exceeds {@code max}, or {@code initial}
     *     (when set) is outside [min, max]
     */
    public AdaptiveLimit build() {
      if (min > max) {
        throw new IllegalArgumentException(
            "min (" + min + ") must not exceed max (" + max + ")");
      }
      if (initial != 0 && (initial < min || initial > max)) {
        throw new IllegalArgumentException("initial (" + initial + ") must be within min ("
            + min + ") and max (" + max + ")");
      }
      return new AdaptiveLimit(this);
    }
  }
}
