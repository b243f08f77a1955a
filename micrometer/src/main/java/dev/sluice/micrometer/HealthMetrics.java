package dev.sluice.micrometer;

import dev.sluice.ComponentHealth;
import dev.sluice.HealthMonitor;
import dev.sluice.HealthReport;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.Objects;

/**
 * Meters for a {@link HealthMonitor}:
 * <ul>
 *   <li>{@code sluice.health.score} (gauge): the overall 0–100 score;
 *   <li>{@code sluice.health.component.score} (gauge) {@code {component}}: each component's
 *       score, for the components the monitor reports when bound.
 * </ul>
 *
 * <pre>{@code
 * new HealthMetrics(health).bindTo(registry);
 * // min_over_time(sluice_health_score[10m]) < 85
 * }</pre>
 *
 * <p>A report asks every contributor (a database ping, for one), so one scrape must not make one
 * per gauge: the gauges share a report for up to {@link #DEFAULT_MAX_AGE} (or the age given).
 * Thread-safe.
 */
public final class HealthMetrics implements MeterBinder {
  /** How long the gauges reuse one report by default. */
  public static final Duration DEFAULT_MAX_AGE = Duration.ofSeconds(1);

  private final HealthMonitor monitor;
  private final long maxAgeNanos;
  private final Tags tags;
  private HealthReport last;
  private long lastAt;

  /**
   * Meters for a monitor, sharing a report for {@link #DEFAULT_MAX_AGE}.
   *
   * @param monitor the monitor
   * @throws NullPointerException if {@code monitor} is null
   */
  public HealthMetrics(HealthMonitor monitor) {
    this(monitor, DEFAULT_MAX_AGE, Tags.empty());
  }

  /**
   * Meters for a monitor.
   *
   * @param monitor the monitor
   * @param maxAge how long gauges reuse one report, &gt;= 0 (zero: a report per gauge read)
   * @param tags more tags for every meter
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code maxAge} is negative
   */
  public HealthMetrics(HealthMonitor monitor, Duration maxAge, Iterable<Tag> tags) {
    this.monitor = Objects.requireNonNull(monitor, "monitor");
    if (Objects.requireNonNull(maxAge, "maxAge").isNegative()) {
      throw new IllegalArgumentException("maxAge must be >= 0 but was " + maxAge);
    }
    this.maxAgeNanos = maxAge.toNanos();
    this.tags = Tags.of(Objects.requireNonNull(tags, "tags"));
  }

  /**
   * Registers the gauges.
   *
   * @param registry the registry
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    Gauge.builder("sluice.health.score", this, m -> m.report().score())
        .description("The health monitor's overall score, 0 to 100")
        .tags(tags).strongReference(true).register(registry);
    for (ComponentHealth c : report().components()) {
      String component = c.name();
      Gauge.builder("sluice.health.component.score", this,
              m -> m.report().component(component).map(ComponentHealth::score)
                  .map(Integer::doubleValue).orElse(Double.NaN))
          .description("A health component's score, 0 to 100")
          .tags(tags).tag("component", component).strongReference(true).register(registry);
    }
  }

  private synchronized HealthReport report() {
    long now = System.nanoTime();
    if (last == null || now - lastAt >= maxAgeNanos) {
      last = monitor.report();
      lastAt = now;
    }
    return last;
  }
}
