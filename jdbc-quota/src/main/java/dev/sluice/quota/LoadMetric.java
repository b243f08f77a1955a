package dev.sluice.quota;

import java.util.Objects;
import java.util.Optional;

/**
 * One figure of {@code sluice.check_system_load()}: connections by state, the oldest
 * idle-in-transaction session, lock waits, the longest query, the cache hit ratio.
 *
 * <p>Immutable and thread-safe.
 *
 * @param metric the figure's name, such as {@code "lock_waits"} or {@code "connections_active"}
 * @param value its value (a count, seconds or a percentage, as the name says)
 * @param status {@code "ok"}, {@code "warning"} or {@code "critical"}
 * @param recommendation what to do, present when the status is not ok
 */
public record LoadMetric(
    String metric, double value, String status, Optional<String> recommendation) {

  /**
   * Validates the fields.
   *
   * @param metric the figure's name, such as {@code "lock_waits"} or {@code "connections_active"}
   * @param value its value (a count, seconds or a percentage, as the name says)
   * @param status {@code "ok"}, {@code "warning"} or {@code "critical"}
   * @param recommendation what to do, present when the status is not ok
   * @throws NullPointerException if a reference is null
   */
  public LoadMetric {
    Objects.requireNonNull(metric, "metric");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(recommendation, "recommendation");
  }

  /**
   * Whether the figure is healthy.
   *
   * @return true when the status is {@code "ok"}
   */
  public boolean ok() {
    return "ok".equals(status);
  }
}
