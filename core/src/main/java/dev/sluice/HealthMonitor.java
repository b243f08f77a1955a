package dev.sluice;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Builds a {@link HealthReport} from whatever is registered: queues, rate limiters, breakers and
 * outbound guards, error rates, latency probes such as a database ping.
 *
 * <p><b>Score formula.</b> Each component scores itself 0–100; the ready-made contributors score a
 * figure {@code v} against its target {@code t} with {@link HealthContributors#score(double,
 * double)}: with {@code x = v / t}, the score is {@code 100 - 15x} below the target (at least 85,
 * healthy) and {@code 84 - 34(x - 1)} from the target on (84 at the target, 50 at twice it, 0 at
 * about 3.5 times it), rounded down. The overall score is a <em>weighted minimum</em>:
 * <pre>
 *   overall = min over components of  100 - weight * (100 - componentScore)
 * </pre>
 * so the worst component decides, and a component registered with weight 0.5 can pull the score
 * down at most to 50 (degraded, never unhealthy). With no components the score is 100. The status
 * is {@link HealthStatus#of(int) healthy from 85, degraded from 50, else unhealthy}. The
 * original system's targets map onto this: error rate &lt; 5 %, queue below its maximum, database
 * ping &lt; 1000 ms each keep their component, and so the report, at 85 or above.
 *
 * <pre>{@code
 * HealthMonitor health = HealthMonitor.builder()
 *     .add(HealthContributors.queue("chat", q::queued, q::maxQueued, q::active,
 *         q::maxConcurrent, q::rejected))
 *     .add(HealthContributors.errors(errorTracker))
 *     .add(HealthContributors.outboundGuard(pubmed))
 *     .add(HealthContributors.rateLimiter(chatLimits), 0.5)
 *     .add(LatencyProbe.of("db", () -> jdbi.withHandle(h -> h.execute("SELECT 1"))))
 *     .build();
 * HealthReport report = health.report();   // e.g. 84, DEGRADED, ["queue depth 50 of 50 ..."]
 * }</pre>
 *
 * <p><b>Thread safety.</b> Instances are thread-safe; each report asks every contributor once, on
 * the calling thread.
 */
public interface HealthMonitor {

  /**
   * Asks every contributor and combines the answers.
   *
   * @return the report
   */
  HealthReport report();

  /**
   * Starts a builder.
   *
   * @return an empty builder
   */
  static Builder builder() {
    return new Builder();
  }

  /**
   * Builds {@link HealthMonitor}s.
   *
   * <p>Not thread-safe.
   */
  final class Builder {
    final List<HealthContributor> contributors = new ArrayList<>();
    final List<Double> weights = new ArrayList<>();

    Builder() {}

    /**
     * Registers a contributor with weight 1.
     *
     * @param contributor the contributor
     * @return this builder
     * @throws NullPointerException if {@code contributor} is null
     */
    public Builder add(HealthContributor contributor) {
      return add(contributor, 1.0);
    }

    /**
     * Registers a contributor with a weight: how far its score can pull the overall score down.
     *
     * @param contributor the contributor
     * @param weight in (0, 1]
     * @return this builder
     * @throws NullPointerException if {@code contributor} is null
     * @throws IllegalArgumentException if {@code weight} is outside (0, 1]
     */
    public Builder add(HealthContributor contributor, double weight) {
      Objects.requireNonNull(contributor, "contributor");
      if (!(weight > 0 && weight <= 1)) {
        throw new IllegalArgumentException("weight must be in (0, 1] but was " + weight);
      }
      contributors.add(contributor);
      weights.add(weight);
      return this;
    }

    /**
     * Builds the monitor.
     *
     * @return a new monitor
     */
    public HealthMonitor build() {
      return new WeightedHealthMonitor(contributors, weights);
    }
  }
}
