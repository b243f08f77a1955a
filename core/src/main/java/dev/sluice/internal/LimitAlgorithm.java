package dev.sluice.internal;

/**
 * A concurrency-limit algorithm fed by permit hold times. Called only under the queue's lock, so
 * an implementation needs no synchronisation of its own.
 */
public interface LimitAlgorithm {
  /**
   * The limit before any sample.
   *
   * @return the initial limit, &gt;= 1
   */
  int initialLimit();

  /**
   * Takes one sample.
   *
   * @param startNanos when the permit was admitted, on the queue's clock
   * @param rttNanos how long it was held
   * @param inflight permits held when it was admitted, itself included
   * @param nowNanos the clock now
   * @return the limit after this sample, &gt;= 1
   */
  int onSample(long startNanos, long rttNanos, int inflight, long nowNanos);
}
