package dev.sluice.spring;

import dev.sluice.CircuitBreaker;
import dev.sluice.HealthContributor;
import dev.sluice.HealthContributors;
import dev.sluice.HealthMonitor;
import dev.sluice.NanoClock;
import dev.sluice.QuotaGate;
import dev.sluice.RateLimitCounter;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.servlet.ClientAddressResolver;
import dev.sluice.servlet.RouteRule;
import dev.sluice.servlet.SluiceFilter;
import dev.sluice.servlet.UserKeyResolver;
import dev.sluice.spring.internal.PostgresSupport;
import dev.sluice.spring.internal.Reconfigurer;
import dev.sluice.spring.internal.RedisSupport;
import jakarta.servlet.DispatcherType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.util.ClassUtils;

/**
 * Configures Sluice in a servlet web application from the {@code sluice.*} properties
 * ({@link SluiceProperties}): the rate limiters on the chosen store, the request queue, the
 * {@link SluiceFilter} registered for the {@code REQUEST} and {@code ASYNC} dispatches with async
 * support, and a {@link HealthMonitor} over all of them. With Actuator present it adds the
 * {@code sluice} health indicator and the {@code sluice} endpoint
 * ({@link SluiceActuatorConfiguration}).
 *
 * <p>The application can replace the filter, the health monitor, or supply a
 * {@link UserKeyResolver}, {@link ClientAddressResolver} or {@link QuotaGate} bean; its
 * {@link CircuitBreaker} and {@link HealthContributor} beans join the health report and the
 * endpoint.
 */
@AutoConfiguration(afterName = {
    "org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration",
    "org.springframework.boot.autoconfigure.jdbc.DataSourceAutoConfiguration"})
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass(SluiceFilter.class)
@ConditionalOnProperty(prefix = "sluice", name = "enabled", havingValue = "true",
    matchIfMissing = true)
@EnableConfigurationProperties(SluiceProperties.class)
public class SluiceAutoConfiguration {

  /** Creates the configuration; Spring calls this. */
  public SluiceAutoConfiguration() {}

  /**
   * The limiters, rules and queue built from the properties.
   *
   * @param properties the bound {@code sluice.*} properties
   * @param beans the application's beans, for a {@code DataSource} or Redis connection, and a
   *     {@link NanoClock} bean, which when present is the in-memory limiters' clock (tests)
   * @return the components, closed at shutdown
   * @throws IllegalStateException if the chosen store cannot be built, naming the property
   */
  @Bean
  public SluiceComponents sluiceComponents(SluiceProperties properties,
      ListableBeanFactory beans) {
    return build(properties, beans);
  }

  /**
   * The filter, over the components, with the application's resolvers and quota gate when it
   * has them.
   *
   * @param properties the bound properties
   * @param components the limiters, rules and queue
   * @param quotaGates the application's quota gate, if any
   * @param users the application's user resolver, if any
   * @param addresses the application's client address resolver, if any
   * @param beans the application's beans, for a {@code DataSource} when a rule has a quota
   * @return the filter
   * @throws IllegalStateException if a rule names a quota and there is no quota gate nor
   *     {@code DataSource}
   */
  @Bean
  @ConditionalOnMissingBean
  public SluiceFilter sluiceFilter(SluiceProperties properties, SluiceComponents components,
      ObjectProvider<QuotaGate> quotaGates, ObjectProvider<UserKeyResolver> users,
      ObjectProvider<ClientAddressResolver> addresses, ListableBeanFactory beans) {
    SluiceProperties.Filter f = properties.getFilter();
    SluiceFilter.Builder b = SluiceFilter.builder()
        .maxBodySize(f.getMaxBodySize())
        .bodyTimeout(f.getBodyTimeout())
        .minBodyRate(f.getMinBodyRate())
        .rateLimitHeadersOnAdmitted(f.isRateLimitHeadersOnAdmitted())
        .logInterval(f.getLogInterval())
        .userKeyResolver(users.getIfAvailable(() -> f.getUserAttribute() == null
            ? UserKeyResolver.principal()
            : UserKeyResolver.requestAttribute(f.getUserAttribute())))
        .clientAddressResolver(addresses.getIfAvailable(() -> addressResolver(f)));
    components.queue().ifPresent(b::queue);
    for (RouteRule r : components.routeRules()) {
      b.rule(r);
    }
    String quotaRule = null;
    for (int i = 0; i < properties.getRules().size(); i++) {
      if (properties.getRules().get(i).getQuota() != null) {
        quotaRule = "sluice.rules[" + i + "].quota";
        break;
      }
    }
    if (quotaRule != null) {
      QuotaGate gate = quotaGates.getIfAvailable();
      if (gate == null) {
        DataSource ds = dataSource(beans, quotaRule + " needs a QuotaGate bean or");
        requireClass(PostgresSupport.MARKER, quotaRule);
        if (properties.getStore().isMigrateSchema()) {
          PostgresSupport.migrate(ds);
        }
        gate = PostgresSupport.quotaGate(ds);
      }
      b.quotaGate(gate);
    }
    return b.build();
  }

  /**
   * Registers the filter for {@code REQUEST} and {@code ASYNC} dispatches with async support
   * (queued requests wait suspended), at {@code sluice.filter.order} on
   * {@code sluice.filter.url-patterns}.
   *
   * @param filter the filter
   * @param properties the bound properties
   * @return the registration
   */
  @Bean
  @ConditionalOnMissingBean(name = "sluiceFilterRegistration")
  public FilterRegistrationBean<SluiceFilter> sluiceFilterRegistration(SluiceFilter filter,
      SluiceProperties properties) {
    FilterRegistrationBean<SluiceFilter> registration = new FilterRegistrationBean<>(filter);
    registration.setName("sluiceFilter");
    registration.setAsyncSupported(true);
    registration.setDispatcherTypes(DispatcherType.REQUEST, DispatcherType.ASYNC);
    registration.setUrlPatterns(properties.getFilter().getUrlPatterns());
    registration.setOrder(properties.getFilter().getOrder());
    return registration;
  }

  /**
   * The health monitor: the filter (store failures), the queue, each rate limiter's refusals
   * (weighted by {@code sluice.health.rate-limiter-weight}), the application's circuit breakers
   * and its Sluice {@link HealthContributor} beans.
   *
   * @param properties the bound properties
   * @param components the limiters and queue
   * @param filter the filter
   * @param breakers the application's circuit breakers
   * @param contributors the application's health contributors
   * @return the monitor
   */
  @Bean
  @ConditionalOnMissingBean
  public HealthMonitor sluiceHealthMonitor(SluiceProperties properties,
      SluiceComponents components, SluiceFilter filter, ObjectProvider<CircuitBreaker> breakers,
      ObjectProvider<HealthContributor> contributors) {
    HealthMonitor.Builder b = HealthMonitor.builder().add(filter.healthContributor());
    components.queue().ifPresent(q -> b.add(HealthContributors.requestQueue(q)));
    double weight = properties.getHealth().getRateLimiterWeight();
    for (RateLimitCounter c : components.rateLimitCounters().values()) {
      b.add(HealthContributors.rateLimiter(c), weight);
    }
    breakers.orderedStream().forEach(cb -> b.add(HealthContributors.circuitBreaker(cb)));
    contributors.orderedStream().forEach(b::add);
    return b.build();
  }

  /**
   * Refuses runtime changes until the core's reconfiguration API is wired in; an application
   * may supply its own.
   *
   * @return the reconfigurer
   */
  @Bean
  @ConditionalOnMissingBean
  Reconfigurer sluiceReconfigurer() {
    return Reconfigurer.core();
  }

  private static ClientAddressResolver addressResolver(SluiceProperties.Filter f) {
    if (f.getTrustedProxies().isEmpty() && f.getIpv6PrefixLength() == 64) {
      return ClientAddressResolver.socketOnly();
    }
    return ClientAddressResolver.builder()
        .trustedProxies(f.getTrustedProxies().toArray(String[]::new))
        .forwardedHeader(f.getForwardedHeader() == SluiceProperties.ForwardedHeaderType.FORWARDED
            ? ClientAddressResolver.ForwardedHeader.FORWARDED
            : ClientAddressResolver.ForwardedHeader.X_FORWARDED_FOR)
        .ipv6PrefixLength(f.getIpv6PrefixLength())
        .build();
  }

  static SluiceComponents build(SluiceProperties p, ListableBeanFactory beans) {
    List<AutoCloseable> resources = new ArrayList<>();
    try {
      LimiterFactory factory = limiterFactory(p, beans, resources);
      Map<String, RateLimiter<String>> limiters = new LinkedHashMap<>();
      Map<String, RateLimitCounter> counters = new LinkedHashMap<>();
      List<RouteRule> rules = new ArrayList<>();
      for (int i = 0; i < p.getRules().size(); i++) {
        SluiceProperties.Rule r = p.getRules().get(i);
        String at = "sluice.rules[" + i + "]";
        RateLimiter<String> perIp = limiter(r.getPerIp(), r.getName(), at + ".per-ip",
            factory, limiters, counters);
        RateLimiter<String> perUser = limiter(r.getPerUser(), r.getName() + "-user",
            at + ".per-user", factory, limiters, counters);
        for (String path : r.getPaths()) {
          RouteRule.Builder rb = RouteRule.builder(
                  r.getPaths().size() == 1 ? r.getName() : r.getName() + " " + path)
              .path(path)
              .methods(r.getMethods().toArray(String[]::new))
              .failOpen(r.isFailOpen())
              .shadow(r.isShadow());
          if (perIp != null) {
            rb.perIp(perIp);
          }
          if (perUser != null) {
            rb.perUser(perUser);
          }
          if (r.getQueuePriority() != null) {
            rb.queuePriority(r.getQueuePriority());
          }
          if (r.getQuota() != null) {
            rb.quota(r.getQuota(), r.getQuotaCost());
          }
          if (r.getMaxBodySize() != null) {
            rb.maxBodySize(r.getMaxBodySize());
          }
          rules.add(rb.build());
        }
      }
      RequestQueue<String> queue = null;
      if (p.hasQueue()) {
        SluiceProperties.Queue q = p.getQueue();
        RequestQueue.Builder qb = RequestQueue.builder()
            .name(q.getName())
            .maxConcurrent(q.getMaxConcurrent())
            .maxQueued(q.getMaxQueued())
            .timeout(q.getTimeout())
            .retryAfter(q.getRetryAfter());
        if (q.getMaxConcurrentPerKey() != null) {
          qb.maxConcurrentPerKey(q.getMaxConcurrentPerKey());
        }
        if (q.getMaxQueuedPerKey() != null) {
          qb.maxQueuedPerKey(q.getMaxQueuedPerKey());
        }
        List<String> priorities = p.effectivePriorities();
        if (!priorities.isEmpty()) {
          qb.priorities(priorities.toArray(String[]::new));
        }
        queue = qb.build();
      }
      return new SluiceComponents(rules, limiters, counters, queue, resources);
    } catch (RuntimeException e) {
      for (AutoCloseable r : resources) {
        try {
          r.close();
        } catch (Exception suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
  }

  private static RateLimiter<String> limiter(SluiceProperties.Limit l, String defaultName,
      String at, LimiterFactory factory, Map<String, RateLimiter<String>> limiters,
      Map<String, RateLimitCounter> counters) {
    if (l == null) {
      return null;
    }
    String name = l.getName() != null ? l.getName() : defaultName;
    if (limiters.containsKey(name)) {
      throw new IllegalStateException(at + ".name: policy name '" + name
          + "' is used by two limits; give each its own name");
    }
    RateLimiter.Builder b = RateLimiter.builder().name(name).limit(l.getLimit(), l.getPeriod());
    if (l.getBurst() != null) {
      b.burst(l.getBurst());
    }
    RateLimiter<String> raw;
    try {
      raw = factory.build(b, name);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException(at + ": " + e.getMessage(), e);
    }
    RateLimitCounter counter = RateLimitCounter.create(name);
    limiters.put(name, raw);
    counters.put(name, counter);
    return counter.wrap(raw);
  }

  /** Builds a limiter on the configured store. */
  @FunctionalInterface
  interface LimiterFactory {
    RateLimiter<String> build(RateLimiter.Builder builder, String name);
  }

  private static LimiterFactory limiterFactory(SluiceProperties p, ListableBeanFactory beans,
      List<AutoCloseable> resources) {
    SluiceProperties.Store s = p.getStore();
    switch (s.getType()) {
      case POSTGRES: {
        requireClass(PostgresSupport.MARKER, "sluice.store.type=postgres");
        DataSource ds = dataSource(beans, "sluice.store.type=postgres needs");
        if (s.isMigrateSchema()) {
          PostgresSupport.migrate(ds);
        }
        return (b, name) -> b.build(PostgresSupport.store(ds, name));
      }
      case REDIS: {
        requireClass(RedisSupport.MARKER, "sluice.store.type=redis");
        RedisSupport redis = RedisSupport.open(beans, s.getRedis().getUri(),
            s.getRedis().getCommandTimeout(), s.getRedis().getPrefix());
        resources.add(redis);
        return (b, name) -> b.build(redis.store(name));
      }
      default: {
        long maxKeys = s.getMaxKeys();
        NanoClock clock = beans.getBeanProvider(NanoClock.class).getIfUnique(NanoClock::system);
        return (b, name) -> b.maxKeys(maxKeys).clock(clock).build();
      }
    }
  }

  private static DataSource dataSource(ListableBeanFactory beans, String what) {
    DataSource ds = beans.getBeanProvider(DataSource.class).getIfUnique();
    if (ds == null) {
      throw new IllegalStateException(what
          + " a DataSource bean (set spring.datasource.url, or declare one)");
    }
    return ds;
  }

  private static void requireClass(String className, String what) {
    if (!ClassUtils.isPresent(className, SluiceAutoConfiguration.class.getClassLoader())) {
      String artifact = className.startsWith("dev.sluice.redis")
          ? "dev.sluice:sluice-redis" : "dev.sluice:sluice-jdbc-quota";
      throw new IllegalStateException(what + " needs " + artifact + " on the class path");
    }
  }
}
