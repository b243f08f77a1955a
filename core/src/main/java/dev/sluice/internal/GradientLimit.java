package dev.sluice.internal;

import dev.sluice.AdaptiveLimit;

/**
 * The gradient algorithm of {@link AdaptiveLimit} (its javadoc states the rule and why). Not
 * thread-safe: the queue calls it under its lock.
 */
public final class GradientLimit implements LimitAlgorithm {
  /** A window ends after at least this many samples (and one no-load latency). */
  private static final int MIN_WINDOW_SAMPLES = 10;

  private final int min;
  private final int max;
  private final double tolerance;
  private final long rttWindowNanos;

  private double limit;
  /** The no-load latency: the smaller minimum of the current and the previous rtt window. */
  private long noLoad = Long.MAX_VALUE;
  private long previousMin = Long.MAX_VALUE;
  private long currentMin = Long.MAX_VALUE;
  private long rttWindowStart;
  private boolean started;

  private long windowStart;
  private int windowSamples;
  private double windowSum;
  private int windowMaxInflight;

  /**
   * Creates the algorithm.
   *
   * @param config the validated configuration
   */
  public GradientLimit(AdaptiveLimit config) {
    this.min = config.min();
    this.max = config.max();
    this.tolerance = config.tolerance();
    this.rttWindowNanos = config.rttWindow().toNanos();
    this.limit = config.initial();
  }

  @Override
  public int initialLimit() {
    return (int) limit;
  }

  @Override
  public int onSample(long startNanos, long rttNanos, int inflight, long nowNanos) {
    long rtt = Math.max(1, rttNanos);
    if (!started) {
      started = true;
      rttWindowStart = nowNanos;
      windowStart = nowNanos;
    }
    if (nowNanos - rttWindowStart >= rttWindowNanos) {
      // Two windows: a backend that became slower for good is followed within two windows,
      // while a short busy spell cannot erase the minimum just measured.
      previousMin = currentMin;
      currentMin = Long.MAX_VALUE;
      rttWindowStart = nowNanos;
    }
    currentMin = Math.min(currentMin, rtt);
    noLoad = Math.min(previousMin, currentMin);

    windowSamples++;
    windowSum += rtt;
    windowMaxInflight = Math.max(windowMaxInflight, inflight);
    if (windowSamples < MIN_WINDOW_SAMPLES || nowNanos - windowStart < noLoad) {
      return (int) limit;
    }
    double average = windowSum / windowSamples;
    double gradient = Math.max(0.5, Math.min(1.0, (1 + tolerance) * noLoad / average));
    boolean appLimited = windowMaxInflight < limit / 2;
    if (!(gradient >= 1.0 && appLimited)) {
      limit = Math.max(min, Math.min(max, limit * gradient + 1));
    }
    windowStart = nowNanos;
    windowSamples = 0;
    windowSum = 0;
    windowMaxInflight = 0;
    return (int) limit;
  }

  @Override
  public String toString() {
    return "GradientLimit[limit " + limit + ", noLoad " + noLoad + " ns]";
  }
}
