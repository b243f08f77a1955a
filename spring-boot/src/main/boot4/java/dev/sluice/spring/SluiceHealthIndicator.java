package dev.sluice.spring;

import dev.sluice.ComponentHealth;
import dev.sluice.HealthMonitor;
import dev.sluice.HealthReport;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;

/**
 * Sluice's {@link HealthMonitor} report as the {@code sluice} component of Spring Boot's health
 * endpoint: healthy is {@code UP}, unhealthy {@code DOWN}, degraded the status named by
 * {@code sluice.health.degraded-status} ({@code UP} unless set). The details carry the score,
 * Sluice's own status, the recommendations and every component's score and figures.
 *
 * <p>Thread-safe; each call asks the monitor for a fresh report.
 */
public final class SluiceHealthIndicator implements HealthIndicator {
  private final HealthMonitor monitor;
  private final Status degraded;

  /**
   * Creates the indicator.
   *
   * @param monitor the monitor to report
   * @param degradedStatus the Spring status code for a degraded report, such as {@code UP}
   * @throws NullPointerException if an argument is null
   */
  public SluiceHealthIndicator(HealthMonitor monitor, String degradedStatus) {
    this.monitor = Objects.requireNonNull(monitor, "monitor");
    this.degraded = new Status(Objects.requireNonNull(degradedStatus, "degradedStatus"));
  }

  @Override
  public Health health() {
    HealthReport report = monitor.report();
    Status status = switch (report.status()) {
      case HEALTHY -> Status.UP;
      case DEGRADED -> degraded;
      case UNHEALTHY -> Status.DOWN;
    };
    Map<String, Object> components = new LinkedHashMap<>();
    for (ComponentHealth c : report.components()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("score", c.score());
      m.put("status", c.status().name().toLowerCase(Locale.ROOT));
      m.put("figures", c.figures());
      m.put("recommendations", c.recommendations());
      components.put(c.name(), m);
    }
    return Health.status(status)
        .withDetail("score", report.score())
        .withDetail("status", report.status().name().toLowerCase(Locale.ROOT))
        .withDetail("recommendations", report.recommendations())
        .withDetail("components", components)
        .build();
  }
}
