package dev.sluice.spring;

import dev.sluice.CircuitBreaker;
import dev.sluice.servlet.SluiceFilter;
import dev.sluice.spring.internal.Reconfigurer;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;
import org.springframework.boot.actuate.endpoint.web.WebEndpointResponse;

/**
 * The {@code sluice} actuator endpoint: Sluice's operator view and actions.
 *
 * <ul>
 *   <li>{@code GET /actuator/sluice}: the current settings and figures of every rule, rate
 *       limiter, the queue and each circuit breaker bean, and the filter's totals.
 *   <li>{@code GET /actuator/sluice/{kind}/{name}}: one of them; {@code kind} is
 *       {@code rate-limiter}, {@code queue} or {@code circuit-breaker}.
 *   <li>{@code POST /actuator/sluice/{kind}/{name}} with a JSON body: an action
 *       ({@code {"action":"drain"}}, {@code "bypass"} or {@code "restore"} for the queue —
 *       the original system's reset and rollback switches — and {@code "reset"} for a breaker),
 *       or new settings: {@code limit}, {@code period}, {@code burst} for a rate limiter;
 *       {@code maxConcurrent}, {@code maxConcurrentPerKey}, {@code maxQueued}, {@code timeout}
 *       for the queue; {@code failureThreshold}, {@code openDuration}, {@code halfOpenProbes}
 *       for a breaker. Durations are {@code 30s} or {@code PT30S}; settings left out keep their
 *       value. Answers 200 with the component's new view, 400 for a bad value or action, 404
 *       for an unknown component, 409 for a setting that cannot change (an adaptive queue's
 *       maxConcurrent), 501 when the reconfigurer refuses runtime changes.
 * </ul>
 *
 * <p>Write operations change protection at run time: expose this endpoint only behind
 * authentication (Spring Security), as every actuator endpoint with write operations.
 *
 * <p>Thread-safe.
 */
@Endpoint(id = "sluice")
public class SluiceEndpoint {
  /** The component kind of a rate limiter. */
  public static final String RATE_LIMITER = "rate-limiter";
  /** The component kind of the request queue. */
  public static final String QUEUE = "queue";
  /** The component kind of a circuit breaker. */
  public static final String CIRCUIT_BREAKER = "circuit-breaker";

  private final SluiceEndpointSupport support;

  SluiceEndpoint(SluiceProperties properties, SluiceComponents components, SluiceFilter filter,
      Supplier<List<CircuitBreaker>> breakers, Reconfigurer reconfigurer) {
    this.support =
        new SluiceEndpointSupport(properties, components, filter, breakers, reconfigurer);
  }

  /**
   * Everything: rules, rate limiters, the queue, circuit breakers and the filter's totals.
   *
   * @return a JSON-ready map
   */
  @ReadOperation
  public Map<String, Object> settings() {
    return support.settings();
  }

  /**
   * One component's settings and figures.
   *
   * @param kind {@code rate-limiter}, {@code queue} or {@code circuit-breaker}
   * @param name the component's name
   * @return the view, or 404 when there is no such component
   */
  @ReadOperation
  public WebEndpointResponse<Map<String, Object>> component(@Selector String kind,
      @Selector String name) {
    return support.component(kind, name);
  }

  /**
   * Runs an action on a component, or changes its settings.
   *
   * @param kind {@code rate-limiter}, {@code queue} or {@code circuit-breaker}
   * @param name the component's name
   * @param action {@code drain}, {@code bypass}, {@code restore} (queue) or {@code reset}
   *     (breaker); null to change settings
   * @param limit a rate limiter's calls per period
   * @param period a rate limiter's period
   * @param burst a rate limiter's burst
   * @param maxConcurrent the queue's global cap
   * @param maxConcurrentPerKey the queue's per-key cap
   * @param maxQueued the queue's bound on waiters
   * @param timeout the queue's longest wait
   * @param failureThreshold a breaker's consecutive failures before opening
   * @param openDuration how long a breaker stays open
   * @param halfOpenProbes a breaker's probe calls
   * @return the component's view after the change; 400, 404, 409 or 501 with an error
   */
  @WriteOperation
  public WebEndpointResponse<Map<String, Object>> change(@Selector String kind,
      @Selector String name, @Nullable String action,
      @Nullable Integer limit, @Nullable String period,
      @Nullable Integer burst, @Nullable Integer maxConcurrent,
      @Nullable Integer maxConcurrentPerKey, @Nullable Integer maxQueued,
      @Nullable String timeout, @Nullable Integer failureThreshold,
      @Nullable String openDuration, @Nullable Integer halfOpenProbes) {
    return support.change(kind, name, action, limit, period, burst, maxConcurrent,
        maxConcurrentPerKey, maxQueued, timeout, failureThreshold, openDuration, halfOpenProbes);
  }
}
