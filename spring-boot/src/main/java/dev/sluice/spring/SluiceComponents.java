package dev.sluice.spring;

import dev.sluice.RateLimitCounter;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.servlet.RouteRule;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the starter built from the {@code sluice.*} properties: the route rules, their rate
 * limiters (with the counters that feed health), and the request queue. The filter, the health
 * monitor and the actuator endpoint all read from here. Closing it closes the queue and any
 * store connection the starter opened; Spring does that at shutdown.
 *
 * <p>Thread-safe: immutable once built.
 */
public final class SluiceComponents implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SluiceComponents.class);

  private final List<RouteRule> routeRules;
  private final Map<String, RateLimiter<String>> rateLimiters;
  private final Map<String, RateLimitCounter> counters;
  private final RequestQueue<String> queue;
  private final List<AutoCloseable> resources;

  SluiceComponents(List<RouteRule> routeRules, Map<String, RateLimiter<String>> rateLimiters,
      Map<String, RateLimitCounter> counters, RequestQueue<String> queue,
      List<AutoCloseable> resources) {
    this.routeRules = List.copyOf(routeRules);
    this.rateLimiters = Collections.unmodifiableMap(new LinkedHashMap<>(rateLimiters));
    this.counters = Collections.unmodifiableMap(new LinkedHashMap<>(counters));
    this.queue = queue;
    this.resources = new ArrayList<>(resources);
  }

  /**
   * The route rules given to the filter, in matching order (one per configured path).
   *
   * @return the rules
   */
  public List<RouteRule> routeRules() {
    return routeRules;
  }

  /**
   * The rate limiters by policy name, as built on the configured store (not wrapped by the
   * counters the rules use, so settings can be read and changed on them directly).
   *
   * @return the limiters
   */
  public Map<String, RateLimiter<String>> rateLimiters() {
    return rateLimiters;
  }

  /**
   * The refusal counters by policy name, feeding the health report.
   *
   * @return the counters
   */
  public Map<String, RateLimitCounter> rateLimitCounters() {
    return counters;
  }

  /**
   * The request queue, when {@code sluice.queue.max-concurrent} is set.
   *
   * @return the queue
   */
  public Optional<RequestQueue<String>> queue() {
    return Optional.ofNullable(queue);
  }

  /** Closes the queue (waiters are refused) and the store connections the starter opened. */
  @Override
  public void close() {
    if (queue != null) {
      queue.close();
    }
    for (AutoCloseable r : resources) {
      try {
        r.close();
      } catch (Exception e) {
        LOG.warn("closing {} failed", r, e);
      }
    }
  }
}
