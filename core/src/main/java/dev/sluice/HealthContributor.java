package dev.sluice;

/**
 * Something a {@link HealthMonitor} asks about: a queue, a limiter, a breaker, a database ping.
 * Ready-made contributors are in {@link HealthContributors} and {@link LatencyProbe}; a custom
 * one can score a figure against its target with {@link HealthContributors#score(double, double)}.
 *
 * <pre>{@code
 * HealthContributor threads = () -> {
 *   int busy = pool.getActiveCount();
 *   return new ComponentHealth("workers", HealthContributors.score(busy, pool.getMaximumPoolSize()),
 *       Map.of("busy", busy), List.of());
 * };
 * }</pre>
 *
 * <p>Implementations must be thread-safe and quick; a report calls each one once.
 */
@FunctionalInterface
public interface HealthContributor {

  /**
   * Reads the component's current health.
   *
   * @return the component's figures, score and recommendations
   * @throws RuntimeException if the check itself fails; the monitor reports the component with
   *     score 0
   */
  ComponentHealth check();
}
