package dev.sluice.spring;

import dev.sluice.CircuitBreaker;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.servlet.FilterStats;
import dev.sluice.servlet.SluiceFilter;
import dev.sluice.spring.internal.Reconfigurer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import org.springframework.boot.actuate.endpoint.web.WebEndpointResponse;
import org.springframework.boot.convert.DurationStyle;

/**
 * What {@link SluiceEndpoint} does, shared by the Spring Boot 4 and 3 builds of the endpoint
 * (their sources differ only in which {@code @Nullable} marks the write operation's optional
 * parameters). Thread-safe.
 */
final class SluiceEndpointSupport {
  private final SluiceProperties properties;
  private final SluiceComponents components;
  private final SluiceFilter filter;
  private final Supplier<List<CircuitBreaker>> breakers;
  private final Reconfigurer reconfigurer;

  SluiceEndpointSupport(SluiceProperties properties, SluiceComponents components,
      SluiceFilter filter, Supplier<List<CircuitBreaker>> breakers, Reconfigurer reconfigurer) {
    this.properties = properties;
    this.components = components;
    this.filter = filter;
    this.breakers = breakers;
    this.reconfigurer = reconfigurer;
  }

  /**
   * Everything: rules, rate limiters, the queue, circuit breakers and the filter's totals.
   *
   * @return a JSON-ready map
   */
  Map<String, Object> settings() {
    Map<String, Object> out = new LinkedHashMap<>();
    List<Object> rules = new ArrayList<>();
    for (SluiceProperties.Rule r : properties.getRules()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", r.getName());
      m.put("paths", List.copyOf(r.getPaths()));
      m.put("methods", List.copyOf(r.getMethods()));
      if (r.getPerIp() != null) {
        m.put("perIp", r.getPerIp().getName() != null ? r.getPerIp().getName() : r.getName());
      }
      if (r.getPerUser() != null) {
        m.put("perUser", r.getPerUser().getName() != null ? r.getPerUser().getName()
            : r.getName() + "-user");
      }
      if (r.getQueuePriority() != null) {
        m.put("queuePriority", r.getQueuePriority());
      }
      if (r.getQuota() != null) {
        m.put("quota", r.getQuota());
        m.put("quotaCost", r.getQuotaCost());
      }
      m.put("failOpen", r.isFailOpen());
      m.put("shadow", r.isShadow());
      rules.add(m);
    }
    out.put("rules", rules);
    Map<String, Object> limiters = new LinkedHashMap<>();
    components.rateLimiters().forEach((name, l) -> limiters.put(name, view(l)));
    out.put("rateLimiters", limiters);
    components.queue().ifPresent(q -> out.put("queue", view(q)));
    Map<String, Object> cbs = new LinkedHashMap<>();
    for (CircuitBreaker cb : breakers.get()) {
      cbs.put(cb.name(), view(cb));
    }
    out.put("circuitBreakers", cbs);
    out.put("filter", view(filter.stats()));
    out.put("store", properties.getStore().getType().name().toLowerCase(Locale.ROOT));
    return out;
  }

  /**
   * One component's settings and figures.
   *
   * @param kind {@code rate-limiter}, {@code queue} or {@code circuit-breaker}
   * @param name the component's name
   * @return the view, or 404 when there is no such component
   */
  WebEndpointResponse<Map<String, Object>> component(String kind,
      String name) {
    Object c = find(kind, name);
    if (c == null) {
      return notFound(kind, name);
    }
    return new WebEndpointResponse<>(viewOf(c), WebEndpointResponse.STATUS_OK);
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
  WebEndpointResponse<Map<String, Object>> change(String kind,
      String name, String action,
      Integer limit, String period,
      Integer burst, Integer maxConcurrent,
      Integer maxConcurrentPerKey, Integer maxQueued,
      String timeout, Integer failureThreshold,
      String openDuration, Integer halfOpenProbes) {
    Object c = find(kind, name);
    if (c == null) {
      return notFound(kind, name);
    }
    try {
      if (action != null) {
        applyAction(c, action);
      } else if (c instanceof RateLimiter<?> l) {
        reconfigurer.rateLimiter(l, limit != null ? limit : l.limit(),
            period != null ? duration("period", period) : l.period(),
            burst != null ? burst : l.burst());
      } else if (c instanceof RequestQueue<?> q) {
        reconfigurer.requestQueue(q, maxConcurrent != null ? maxConcurrent : q.maxConcurrent(),
            maxConcurrentPerKey != null ? maxConcurrentPerKey : q.maxConcurrentPerKey(),
            maxQueued != null ? maxQueued : q.maxQueued(),
            timeout != null ? duration("timeout", timeout) : q.timeout());
      } else {
        reconfigurer.circuitBreaker((CircuitBreaker) c, failureThreshold,
            openDuration != null ? duration("openDuration", openDuration) : null,
            halfOpenProbes);
      }
    } catch (IllegalArgumentException e) {
      return error(WebEndpointResponse.STATUS_BAD_REQUEST, "invalid", e.getMessage());
    } catch (UnsupportedOperationException e) {
      return error(501, "unsupported", e.getMessage());
    } catch (IllegalStateException e) {
      // An adaptive queue's maxConcurrent belongs to its limit algorithm.
      return error(409, "not_reconfigurable", e.getMessage());
    }
    return new WebEndpointResponse<>(viewOf(c), WebEndpointResponse.STATUS_OK);
  }

  private static void applyAction(Object c, String action) {
    String a = action.trim().toLowerCase(Locale.ROOT);
    if (c instanceof RequestQueue<?> q) {
      switch (a) {
        case "drain" -> q.drain();
        case "bypass" -> q.bypass(true);
        case "restore" -> q.bypass(false);
        default -> throw new IllegalArgumentException(
            "action must be drain, bypass or restore for a queue but was '" + action + "'");
      }
    } else if (c instanceof CircuitBreaker cb && a.equals("reset")) {
      cb.reset();
    } else {
      throw new IllegalArgumentException("no action '" + action + "' for "
          + (c instanceof CircuitBreaker ? "a circuit breaker (reset)" : "a rate limiter"));
    }
  }

  private static Duration duration(String field, String text) {
    try {
      Duration d = DurationStyle.detectAndParse(text.trim());
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(field + " must be positive but was " + text);
      }
      return d;
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(field + " must be a duration such as 30s or PT30S but"
          + " was '" + text + "'", e);
    }
  }

  private Object find(String kind, String name) {
    switch (kind) {
      case SluiceEndpoint.RATE_LIMITER:
        return components.rateLimiters().get(name);
      case SluiceEndpoint.QUEUE:
        return components.queue().filter(q -> q.name().equals(name)).orElse(null);
      case SluiceEndpoint.CIRCUIT_BREAKER:
        for (CircuitBreaker cb : breakers.get()) {
          if (cb.name().equals(name)) {
            return cb;
          }
        }
        return null;
      default:
        return null;
    }
  }

  private static Map<String, Object> viewOf(Object c) {
    if (c instanceof RateLimiter<?> l) {
      return view(l);
    }
    if (c instanceof RequestQueue<?> q) {
      return view(q);
    }
    return view((CircuitBreaker) c);
  }

  private static Map<String, Object> view(RateLimiter<?> l) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("limit", l.limit());
    m.put("period", l.period().toString());
    m.put("burst", l.burst());
    m.put("emissionInterval", l.emissionInterval().toString());
    m.put("local", l.isLocal());
    return m;
  }

  private static Map<String, Object> view(RequestQueue<?> q) {
    RequestQueue.Stats<?> s = q.stats();
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", q.name());
    m.put("maxConcurrent", q.maxConcurrent());
    m.put("maxConcurrentPerKey", q.maxConcurrentPerKey());
    m.put("maxQueued", q.maxQueued());
    m.put("timeout", q.timeout().toString());
    m.put("priorities", q.priorities());
    m.put("adaptive", q.isAdaptive());
    m.put("bypassed", s.bypassed());
    m.put("closed", s.closed());
    m.put("active", s.active());
    m.put("queued", s.queued());
    m.put("queuedByPriority", s.queuedByPriority());
    m.put("admitted", s.admitted());
    m.put("rejected", s.rejected());
    m.put("timedOut", s.timedOut());
    m.put("cancelled", s.cancelled());
    m.put("longestWait", s.longestWait().toString());
    return m;
  }

  private static Map<String, Object> view(CircuitBreaker cb) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("state", cb.state().name());
    m.put("consecutiveFailures", cb.consecutiveFailures());
    m.put("failureRate", cb.failureRate());
    m.put("untilProbe", cb.untilProbe().toString());
    return m;
  }

  private static Map<String, Object> view(FilterStats t) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("admitted", t.admitted());
    m.put("rateLimited", t.rateLimited());
    m.put("quotaExceeded", t.quotaExceeded());
    m.put("shed", t.shed());
    m.put("storeFailures", t.storeFailures());
    m.put("shadowRefusals", t.shadowRefusals());
    m.put("abandoned", t.abandoned());
    m.put("clientAborts", t.clientAborts());
    m.put("bodyTimeouts", t.bodyTimeouts());
    m.put("bodyTooLarge", t.bodyTooLarge());
    m.put("handlerFailures", t.failed());
    return m;
  }

  private static WebEndpointResponse<Map<String, Object>> notFound(String kind, String name) {
    return error(WebEndpointResponse.STATUS_NOT_FOUND, "not_found", "no " + kind + " named '"
        + name + "'; kinds: " + SluiceEndpoint.RATE_LIMITER + ", " + SluiceEndpoint.QUEUE
        + ", " + SluiceEndpoint.CIRCUIT_BREAKER);
  }

  private static WebEndpointResponse<Map<String, Object>> error(int status, String error,
      String message) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("error", error);
    body.put("message", message);
    return new WebEndpointResponse<>(body, status);
  }
}
