package dev.sluice.servlet.internal;

import dev.sluice.CircuitBreaker;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;

/**
 * The admin endpoint's JSON form of the live settings of rate limiters, queues and circuit
 * breakers, and the merge of a partial JSON object into them. Durations are written as ISO-8601
 * strings ({@code "PT1M"}) and read from either such a string or a whole number of milliseconds.
 * Thread-safe (stateless).
 */
public final class SettingsJson {
  private static final List<String> LIMITER_FIELDS = List.of("limit", "period", "burst");
  private static final List<String> QUEUE_FIELDS =
      List.of("maxConcurrent", "maxConcurrentPerKey", "maxQueued", "timeout");
  private static final List<String> BREAKER_FIELDS = List.of("failureThreshold",
      "failureRateThreshold", "minimumCalls", "slowCallThreshold", "openDuration",
      "halfOpenProbes");

  private SettingsJson() {}

  /** A setting that cannot be applied, naming the field it concerns. */
  public static final class InvalidSetting extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final String field;

    /**
     * Creates the exception.
     *
     * @param field the field's JSON name
     * @param message what is wrong
     */
    public InvalidSetting(String field, String message) {
      super(message);
      this.field = field;
    }

    /**
     * The field's JSON name.
     *
     * @return the name
     */
    public String field() {
      return field;
    }
  }

  /**
   * A rate limiter's settings as JSON.
   *
   * @param s the settings
   * @return {@code {"limit":…,"period":"PT…","burst":…}}
   */
  public static String json(RateLimiter.Settings s) {
    return "{\"limit\":" + s.limit() + ",\"period\":" + Json.quote(s.period().toString())
        + ",\"burst\":" + s.burst() + "}";
  }

  /**
   * A queue's settings as JSON.
   *
   * @param s the settings
   * @return {@code {"maxConcurrent":…,"maxConcurrentPerKey":…,"maxQueued":…,"timeout":"PT…"}}
   */
  public static String json(RequestQueue.Settings s) {
    return "{\"maxConcurrent\":" + s.maxConcurrent() + ",\"maxConcurrentPerKey\":"
        + s.maxConcurrentPerKey() + ",\"maxQueued\":" + s.maxQueued() + ",\"timeout\":"
        + Json.quote(s.timeout().toString()) + "}";
  }

  /**
   * A circuit breaker's settings as JSON; no slow-call threshold is {@code null}.
   *
   * @param s the settings
   * @return the JSON object
   */
  public static String json(CircuitBreaker.Settings s) {
    return "{\"failureThreshold\":" + s.failureThreshold() + ",\"failureRateThreshold\":"
        + s.failureRateThreshold() + ",\"minimumCalls\":" + s.minimumCalls()
        + ",\"slowCallThreshold\":"
        + (s.slowCallThreshold() == null ? "null" : Json.quote(s.slowCallThreshold().toString()))
        + ",\"openDuration\":" + Json.quote(s.openDuration().toString())
        + ",\"halfOpenProbes\":" + s.halfOpenProbes() + "}";
  }

  /**
   * The settings {@code old} with the fields present in {@code given} replaced.
   *
   * @param old the current settings
   * @param given the fields to change
   * @return the new settings
   * @throws InvalidSetting naming the field if a name is unknown or a value invalid
   */
  public static RateLimiter.Settings merge(RateLimiter.Settings old, Map<String, Object> given) {
    known(given, LIMITER_FIELDS);
    int limit = given.containsKey("limit") ? integer(given, "limit") : old.limit();
    Duration period = given.containsKey("period") ? duration(given, "period") : old.period();
    int burst = given.containsKey("burst") ? integer(given, "burst") : old.burst();
    try {
      return new RateLimiter.Settings(limit, period, burst);
    } catch (IllegalArgumentException e) {
      throw invalid(e, LIMITER_FIELDS);
    }
  }

  /**
   * The settings {@code old} with the fields present in {@code given} replaced. A queue without
   * a per-key cap (per-key cap equal to the global cap) keeps none when only
   * {@code maxConcurrent} is given: its per-key cap follows.
   *
   * @param old the current settings
   * @param given the fields to change
   * @return the new settings
   * @throws InvalidSetting naming the field if a name is unknown or a value invalid
   */
  public static RequestQueue.Settings merge(RequestQueue.Settings old, Map<String, Object> given) {
    known(given, QUEUE_FIELDS);
    int max = given.containsKey("maxConcurrent")
        ? integer(given, "maxConcurrent") : old.maxConcurrent();
    int perKey;
    if (given.containsKey("maxConcurrentPerKey")) {
      perKey = integer(given, "maxConcurrentPerKey");
    } else {
      perKey = old.maxConcurrentPerKey() == old.maxConcurrent() ? max : old.maxConcurrentPerKey();
    }
    int queued = given.containsKey("maxQueued") ? integer(given, "maxQueued") : old.maxQueued();
    Duration timeout = given.containsKey("timeout") ? duration(given, "timeout") : old.timeout();
    try {
      return new RequestQueue.Settings(max, perKey, queued, timeout);
    } catch (IllegalArgumentException e) {
      throw invalid(e, QUEUE_FIELDS);
    }
  }

  /**
   * The settings {@code old} with the fields present in {@code given} replaced;
   * {@code "slowCallThreshold":null} removes the slow-call threshold.
   *
   * @param old the current settings
   * @param given the fields to change
   * @return the new settings
   * @throws InvalidSetting naming the field if a name is unknown or a value invalid
   */
  public static CircuitBreaker.Settings merge(CircuitBreaker.Settings old,
      Map<String, Object> given) {
    known(given, BREAKER_FIELDS);
    int failures = given.containsKey("failureThreshold")
        ? integer(given, "failureThreshold") : old.failureThreshold();
    double rate = given.containsKey("failureRateThreshold")
        ? decimal(given, "failureRateThreshold") : old.failureRateThreshold();
    int minimumCalls = given.containsKey("minimumCalls")
        ? integer(given, "minimumCalls") : old.minimumCalls();
    Duration slow = old.slowCallThreshold();
    if (given.containsKey("slowCallThreshold")) {
      slow = given.get("slowCallThreshold") == null ? null : duration(given, "slowCallThreshold");
    }
    Duration open = given.containsKey("openDuration")
        ? duration(given, "openDuration") : old.openDuration();
    int probes = given.containsKey("halfOpenProbes")
        ? integer(given, "halfOpenProbes") : old.halfOpenProbes();
    try {
      return new CircuitBreaker.Settings(failures, rate, minimumCalls, slow, open, probes);
    } catch (IllegalArgumentException e) {
      throw invalid(e, BREAKER_FIELDS);
    }
  }

  /**
   * Names the field an {@link IllegalArgumentException} of a settings constructor or a
   * reconfigure call is about: its message starts with the field's name.
   *
   * @param e the exception
   * @param fields the candidate fields
   * @return an {@link InvalidSetting} with the same message
   */
  private static InvalidSetting invalid(IllegalArgumentException e, List<String> fields) {
    String message = e.getMessage() == null ? "invalid setting" : e.getMessage();
    String field = null;
    for (String f : fields) {
      if (message.startsWith(f + " ") && (field == null || f.length() > field.length())) {
        field = f;
      }
    }
    return new InvalidSetting(field, message);
  }

  /**
   * Names the field of an {@link IllegalArgumentException} a limiter, queue or breaker threw.
   *
   * @param e the exception
   * @return an {@link InvalidSetting} with the same message and the field its message starts with
   */
  public static InvalidSetting invalid(IllegalArgumentException e) {
    if (e instanceof InvalidSetting already) {
      return already;
    }
    List<String> all = new java.util.ArrayList<>(LIMITER_FIELDS);
    all.addAll(QUEUE_FIELDS);
    all.addAll(BREAKER_FIELDS);
    return invalid(e, all);
  }

  private static void known(Map<String, Object> given, List<String> fields) {
    for (String name : given.keySet()) {
      if (!fields.contains(name)) {
        throw new InvalidSetting(name, "unknown setting '" + name + "'; settable: " + fields);
      }
    }
  }

  private static int integer(Map<String, Object> given, String field) {
    Object v = given.get(field);
    if (v instanceof BigDecimal d) {
      try {
        return d.intValueExact();
      } catch (ArithmeticException e) {
        // Falls through: a fraction or out of the int range.
      }
    }
    throw new InvalidSetting(field, field + " must be a whole number but was " + show(v));
  }

  private static double decimal(Map<String, Object> given, String field) {
    Object v = given.get(field);
    if (v instanceof BigDecimal d) {
      return d.doubleValue();
    }
    throw new InvalidSetting(field, field + " must be a number but was " + show(v));
  }

  private static Duration duration(Map<String, Object> given, String field) {
    Object v = given.get(field);
    if (v instanceof String s) {
      try {
        return Duration.parse(s);
      } catch (DateTimeParseException e) {
        throw new InvalidSetting(field, field + " must be an ISO-8601 duration such as \"PT1M\" "
            + "or a number of milliseconds but was " + show(v));
      }
    }
    if (v instanceof BigDecimal d) {
      try {
        return Duration.ofMillis(d.longValueExact());
      } catch (ArithmeticException e) {
        // Falls through: not a whole number of milliseconds.
      }
    }
    throw new InvalidSetting(field, field + " must be an ISO-8601 duration such as \"PT1M\" or "
        + "a whole number of milliseconds but was " + show(v));
  }

  private static String show(Object v) {
    if (v instanceof String s) {
      return "\"" + s + "\"";
    }
    return v instanceof BigDecimal d ? d.toPlainString() : String.valueOf(v);
  }
}
