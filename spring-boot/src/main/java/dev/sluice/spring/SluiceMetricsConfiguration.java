package dev.sluice.spring;

import dev.sluice.CircuitBreaker;
import dev.sluice.HealthMonitor;
import dev.sluice.micrometer.CircuitBreakerMetrics;
import dev.sluice.micrometer.HealthMetrics;
import dev.sluice.micrometer.RateLimiterMetrics;
import dev.sluice.micrometer.RequestQueueMetrics;
import dev.sluice.micrometer.SluiceFilterMetrics;
import dev.sluice.servlet.SluiceFilter;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * With {@code sluice-micrometer} and Micrometer on the class path: one {@link MeterBinder} that
 * binds the starter's rate limiters, its queue, every {@link CircuitBreaker} bean, the health
 * monitor and the filter ({@code sluice.ratelimit.*}, {@code sluice.queue.*},
 * {@code sluice.breaker.*}, {@code sluice.health.*}, {@code sluice.http.requests}) to every
 * registry Spring Boot configures. Replace it with a bean named {@code sluiceMeterBinder}.
 */
@AutoConfiguration(after = SluiceAutoConfiguration.class)
@ConditionalOnClass(name = {"dev.sluice.micrometer.RateLimiterMetrics",
    "io.micrometer.core.instrument.MeterRegistry"})
@ConditionalOnBean(SluiceComponents.class)
public class SluiceMetricsConfiguration {

  /** Creates the configuration; Spring calls this. */
  public SluiceMetricsConfiguration() {}

  /**
   * The binder of every Sluice meter.
   *
   * @param components the starter's limiters and queue
   * @param filter the starter's filter
   * @param monitor the health monitor
   * @param breakers the application's circuit breakers
   * @return the binder
   */
  @Bean
  @ConditionalOnMissingBean(name = "sluiceMeterBinder")
  MeterBinder sluiceMeterBinder(SluiceComponents components, SluiceFilter filter,
      HealthMonitor monitor, ObjectProvider<CircuitBreaker> breakers) {
    return registry -> {
      components.rateLimiters().values()
          .forEach(limiter -> new RateLimiterMetrics(limiter).bindTo(registry));
      components.queue().ifPresent(queue -> new RequestQueueMetrics(queue).bindTo(registry));
      breakers.orderedStream()
          .forEach(breaker -> new CircuitBreakerMetrics(breaker).bindTo(registry));
      new HealthMetrics(monitor).bindTo(registry);
      new SluiceFilterMetrics(filter).bindTo(registry);
    };
  }
}
