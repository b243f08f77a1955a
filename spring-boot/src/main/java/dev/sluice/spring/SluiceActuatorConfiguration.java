package dev.sluice.spring;

import dev.sluice.CircuitBreaker;
import dev.sluice.HealthMonitor;
import dev.sluice.servlet.SluiceFilter;
import dev.sluice.spring.internal.Reconfigurer;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * With Spring Boot Actuator present: the {@code sluice} health indicator
 * ({@link SluiceHealthIndicator}, switched off with {@code management.health.sluice.enabled=false})
 * and the {@code sluice} endpoint ({@link SluiceEndpoint}, when exposed as usual with
 * {@code management.endpoints.web.exposure.include}).
 */
@AutoConfiguration(after = SluiceAutoConfiguration.class)
@ConditionalOnClass(name = "org.springframework.boot.actuate.autoconfigure.endpoint.condition"
    + ".ConditionalOnAvailableEndpoint")
@ConditionalOnBean(SluiceComponents.class)
public class SluiceActuatorConfiguration {

  /** Creates the configuration; Spring calls this. */
  public SluiceActuatorConfiguration() {}

  /**
   * The health indicator, when Boot's health support is present. The condition names the
   * indicator itself: it loads only where its {@code HealthIndicator} interface exists (in
   * {@code spring-boot-health} on Boot 4, in {@code spring-boot-actuator} on Boot 3).
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "dev.sluice.spring.SluiceHealthIndicator")
  @ConditionalOnProperty(prefix = "management.health.sluice", name = "enabled",
      havingValue = "true", matchIfMissing = true)
  static class HealthIndicatorConfiguration {
    @Bean
    @ConditionalOnMissingBean(name = "sluiceHealthIndicator")
    SluiceHealthIndicator sluiceHealthIndicator(HealthMonitor monitor,
        SluiceProperties properties) {
      return new SluiceHealthIndicator(monitor, properties.getHealth().getDegradedStatus());
    }
  }

  /** The endpoint, when the actuator is present and the endpoint is available. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "org.springframework.boot.actuate.endpoint.annotation.Endpoint")
  @ConditionalOnAvailableEndpoint(endpoint = SluiceEndpoint.class)
  static class EndpointConfiguration {
    @Bean
    @ConditionalOnMissingBean
    SluiceEndpoint sluiceEndpoint(SluiceProperties properties, SluiceComponents components,
        SluiceFilter filter, ObjectProvider<CircuitBreaker> breakers, Reconfigurer reconfigurer) {
      return new SluiceEndpoint(properties, components, filter,
          () -> breakers.orderedStream().toList(), reconfigurer);
    }
  }

}
