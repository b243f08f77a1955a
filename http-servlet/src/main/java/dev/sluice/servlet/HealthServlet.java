package dev.sluice.servlet;

import dev.sluice.CircuitBreaker;
import dev.sluice.ComponentHealth;
import dev.sluice.HealthMonitor;
import dev.sluice.HealthReport;
import dev.sluice.HealthStatus;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.servlet.internal.ErrorResponses;
import dev.sluice.servlet.internal.Json;
import dev.sluice.servlet.internal.JsonTree;
import dev.sluice.servlet.internal.SettingsJson;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The health and admin endpoint ({@code /api/system-health} in the reference app).
 *
 * <p>{@code GET} answers the {@link HealthReport} as JSON: without credentials a public summary
 * ({@code {"status":"healthy","score":92}}); with {@code Authorization: Bearer <admin token>}
 * every component's figures and recommendations too. The status code is 200, or 503 when the
 * report is unhealthy, so a load balancer can use the endpoint as is.
 *
 * <p>{@code POST {"action":…}} runs an operator action and requires the admin token, compared in
 * constant time: {@code reset-queue} fails every waiter of the queue ({@link RequestQueue#drain()},
 * running work is untouched), {@code reset-breakers} closes every registered circuit breaker,
 * {@code bypass-queue} and {@code restore-queue} switch queueing off and on without a redeploy
 * (the original system's rollback plan). With no token configured, admin actions are disabled
 * (403); a missing or wrong token gets 401; an unknown action 400; a malformed body 400; a body
 * over {@link Builder#maxBodyBytes(int)} 413. Every answer is JSON with
 * {@code Cache-Control: no-store}. Client mistakes are logged at DEBUG, actions at INFO.
 *
 * <p><b>Runtime reconfiguration.</b> Two more admin actions read and change the live settings of
 * the registered rate limiters ({@link Builder#rateLimiters}), queue and circuit breakers, all
 * addressed by name:
 * <ul>
 *   <li>{@code {"action":"settings"}} answers
 *       {@code {"action":"settings","rateLimiters":{"per-ip":{"limit":5,"period":"PT1M","burst":5}},
 *       "queues":{"chat":{"maxConcurrent":20,"maxConcurrentPerKey":2,"maxQueued":200,
 *       "timeout":"PT1M"}},"breakers":{"pubmed":{"failureThreshold":5,"failureRateThreshold":0.0,
 *       "minimumCalls":0,"slowCallThreshold":null,"openDuration":"PT30S","halfOpenProbes":1}}}}.
 *   <li>{@code {"action":"configure","kind":"rate-limiter","name":"per-ip","settings":{"limit":10}}}
 *       changes only the fields given (kinds {@code rate-limiter}, {@code queue},
 *       {@code breaker}) through {@link RateLimiter#reconfigure}, {@link RequestQueue#reconfigure}
 *       or {@link CircuitBreaker#reconfigure}, and answers
 *       {@code {"action":"configure","kind":…,"name":…,"old":{…},"new":{…}}}. A queue without a
 *       per-key cap keeps none when only {@code maxConcurrent} is given;
 *       {@code "slowCallThreshold":null} removes a breaker's slow-call threshold.
 * </ul>
 * Durations are written as ISO-8601 strings ({@code "PT1M"}, {@code "PT0.5S"}) and accepted as
 * such a string or as a whole number of milliseconds. An invalid value answers 400
 * {@code {"error":"invalid_setting","message":…,"field":"limit"}} naming the field (an unknown
 * field too); an unknown name 404 {@code unknown_name}; a missing or unknown {@code kind} 400; a
 * change the component refuses (an adaptive queue's {@code maxConcurrent}) 409
 * {@code not_reconfigurable}. Each change is logged at INFO with the old and new settings.
 *
 * <pre>{@code
 * HealthServlet health = HealthServlet.builder(monitor)
 *     .adminToken(System.getenv("SLUICE_ADMIN_TOKEN"))
 *     .queue(queue)
 *     .circuitBreakers(pubmedBreaker)
 *     .build();
 * context.addServlet(new ServletHolder(health), "/api/system-health");
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class HealthServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(HealthServlet.class);
  private static final List<String> ACTIONS = List.of("reset-queue", "reset-breakers",
      "bypass-queue", "restore-queue", "settings", "configure");
  private static final List<String> KINDS = List.of("rate-limiter", "queue", "breaker");

  private final transient HealthMonitor monitor;
  private final transient byte[] tokenDigest;
  private final transient RequestQueue<?> queue;
  private final transient List<CircuitBreaker> breakers;
  private final transient Map<String, RateLimiter<?>> limiters;
  /** The largest admin request body accepted, in bytes. */
  private final int maxBodyBytes;

  private HealthServlet(Builder b) {
    this.monitor = b.monitor;
    this.tokenDigest = b.token == null ? null : sha256(b.token);
    this.queue = b.queue;
    this.breakers = List.copyOf(b.breakers);
    this.limiters = Collections.unmodifiableMap(new LinkedHashMap<>(b.limiters));
    this.maxBodyBytes = b.maxBodyBytes;
  }

  /**
   * Starts a builder.
   *
   * @param monitor the monitor whose report {@code GET} answers
   * @return a builder with admin actions disabled until a token is set
   * @throws NullPointerException if {@code monitor} is null
   */
  public static Builder builder(HealthMonitor monitor) {
    return new Builder(monitor);
  }

  @Override
  protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
    Auth auth = authenticate(req);
    if (auth == Auth.WRONG) {
      unauthorized(res);
      return;
    }
    HealthReport report = monitor.report();
    int status = report.status() == HealthStatus.UNHEALTHY ? 503 : 200;
    ErrorResponses.write(res, status, -1,
        auth == Auth.ADMIN ? fullJson(report) : summaryJson(report));
  }

  @Override
  protected void doPost(HttpServletRequest req, HttpServletResponse res) throws IOException {
    if (tokenDigest == null) {
      error(res, 403, "admin_disabled",
          "Admin actions are disabled: no admin token is configured.");
      return;
    }
    if (authenticate(req) != Auth.ADMIN) {
      unauthorized(res);
      return;
    }
    if (req.getContentLengthLong() > maxBodyBytes) {
      tooLarge(res);
      return;
    }
    byte[] body;
    try (InputStream in = req.getInputStream()) {
      body = in.readNBytes(maxBodyBytes + 1);
    }
    if (body.length > maxBodyBytes) {
      tooLarge(res);
      return;
    }
    Map<?, ?> members;
    try {
      Object parsed = JsonTree.parse(new String(body, StandardCharsets.UTF_8));
      if (!(parsed instanceof Map)) {
        throw new IllegalArgumentException("the top-level value is not an object");
      }
      members = (Map<?, ?>) parsed;
    } catch (IllegalArgumentException e) {
      LOG.debug("malformed admin request: {}", e.getMessage());
      error(res, 400, "malformed_json", "The body must be a JSON object: " + e.getMessage());
      return;
    }
    String action = members.get("action") instanceof String a ? a : null;
    if (action == null) {
      error(res, 400, "missing_action", "The body must name an action, one of " + ACTIONS + ".");
      return;
    }
    if (action.equals("settings")) {
      LOG.info("admin action 'settings' from {}", req.getRemoteAddr());
      ErrorResponses.write(res, 200, -1, "{\"action\":\"settings\"," + settingsJson() + "}");
      return;
    }
    if (action.equals("configure") && configurable()) {
      configure(members, req, res);
      return;
    }
    String result = run(action);
    if (result == null) {
      LOG.debug("unknown admin action '{}'", action);
      error(res, 400, "unknown_action", "Unknown action '" + action + "'; use one of "
          + available() + ".");
      return;
    }
    LOG.info("admin action '{}' from {}: {}", action, req.getRemoteAddr(), result);
    ErrorResponses.write(res, 200, -1, "{\"action\":" + Json.quote(action) + "," + result + "}");
  }

  /** Runs an action; returns JSON members describing the result, or null if unavailable. */
  private String run(String action) {
    switch (action) {
      case "reset-queue":
        return queue == null ? null : "\"drainedWaiters\":" + queue.drain();
      case "bypass-queue":
        if (queue == null) {
          return null;
        }
        queue.bypass(true);
        return "\"bypassed\":true";
      case "restore-queue":
        if (queue == null) {
          return null;
        }
        queue.bypass(false);
        return "\"bypassed\":false";
      case "reset-breakers":
        if (breakers.isEmpty()) {
          return null;
        }
        breakers.forEach(CircuitBreaker::reset);
        return "\"breakersReset\":" + breakers.size();
      default:
        return null;
    }
  }

  /** The members {@code "rateLimiters"}, {@code "queues"} and {@code "breakers"}. */
  private String settingsJson() {
    StringBuilder sb = new StringBuilder(256).append("\"rateLimiters\":{");
    boolean first = true;
    for (RateLimiter<?> limiter : limiters.values()) {
      sb.append(first ? "" : ",").append(Json.quote(limiter.name())).append(':')
          .append(SettingsJson.json(limiter.settings()));
      first = false;
    }
    sb.append("},\"queues\":{");
    if (queue != null) {
      sb.append(Json.quote(queue.name())).append(':').append(SettingsJson.json(queue.settings()));
    }
    sb.append("},\"breakers\":{");
    first = true;
    List<String> seen = new ArrayList<>();
    for (CircuitBreaker breaker : breakers) {
      if (seen.contains(breaker.name())) {
        continue; // a repeated name: the first one registered is the one shown and changed
      }
      seen.add(breaker.name());
      sb.append(first ? "" : ",").append(Json.quote(breaker.name())).append(':')
          .append(SettingsJson.json(breaker.settings()));
      first = false;
    }
    return sb.append('}').toString();
  }

  private boolean configurable() {
    return queue != null || !breakers.isEmpty() || !limiters.isEmpty();
  }

  /** {@code {"action":"configure","kind":…,"name":…,"settings":{…}}}. */
  private void configure(Map<?, ?> members, HttpServletRequest req, HttpServletResponse res)
      throws IOException {
    Object kind = members.get("kind");
    if (!(kind instanceof String) || !KINDS.contains(kind)) {
      error(res, 400, "unknown_kind", "\"kind\" must be one of " + KINDS + ".");
      return;
    }
    Object name = members.get("name");
    if (!(name instanceof String)) {
      error(res, 400, "missing_name", "\"name\" must name the " + kind + " to configure.");
      return;
    }
    Object given = members.get("settings");
    if (!(given instanceof Map)) {
      error(res, 400, "missing_settings",
          "\"settings\" must be an object of the fields to change.");
      return;
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> fields = (Map<String, Object>) given;
    String oldJson;
    String newJson;
    try {
      switch ((String) kind) {
        case "rate-limiter" -> {
          RateLimiter<?> limiter = limiters.get(name);
          if (limiter == null) {
            notFound(res, (String) kind, (String) name, limiters.keySet());
            return;
          }
          RateLimiter.Settings next = SettingsJson.merge(limiter.settings(), fields);
          oldJson = SettingsJson.json(limiter.reconfigure(next));
          newJson = SettingsJson.json(limiter.settings());
        }
        case "queue" -> {
          if (queue == null || !queue.name().equals(name)) {
            notFound(res, (String) kind, (String) name,
                queue == null ? List.of() : List.of(queue.name()));
            return;
          }
          RequestQueue.Settings next = SettingsJson.merge(queue.settings(), fields);
          oldJson = SettingsJson.json(queue.reconfigure(next));
          newJson = SettingsJson.json(queue.settings());
        }
        default -> {
          CircuitBreaker breaker = null;
          List<String> names = new ArrayList<>();
          for (CircuitBreaker b : breakers) {
            names.add(b.name());
            if (breaker == null && b.name().equals(name)) {
              breaker = b;
            }
          }
          if (breaker == null) {
            notFound(res, (String) kind, (String) name, names);
            return;
          }
          CircuitBreaker.Settings next = SettingsJson.merge(breaker.settings(), fields);
          oldJson = SettingsJson.json(breaker.reconfigure(next));
          newJson = SettingsJson.json(breaker.settings());
        }
      }
    } catch (IllegalArgumentException e) {
      SettingsJson.InvalidSetting invalid = SettingsJson.invalid(e);
      LOG.debug("invalid admin configure of {} '{}': {}", kind, name, invalid.getMessage());
      ErrorResponses.write(res, 400, -1, ErrorResponses.body("invalid_setting",
          invalid.getMessage(), "field",
          invalid.field() == null ? "null" : Json.quote(invalid.field())));
      return;
    } catch (IllegalStateException | UnsupportedOperationException e) {
      LOG.debug("refused admin configure of {} '{}': {}", kind, name, e.getMessage());
      error(res, 409, "not_reconfigurable", String.valueOf(e.getMessage()));
      return;
    }
    LOG.info("admin action 'configure' from {}: {} '{}' {} -> {}", req.getRemoteAddr(), kind, name,
        oldJson, newJson);
    ErrorResponses.write(res, 200, -1, "{\"action\":\"configure\",\"kind\":"
        + Json.quote((String) kind) + ",\"name\":" + Json.quote((String) name) + ",\"old\":"
        + oldJson + ",\"new\":" + newJson + "}");
  }

  private static void notFound(HttpServletResponse res, String kind, String name,
      Iterable<String> known) throws IOException {
    List<String> names = new ArrayList<>();
    known.forEach(names::add);
    error(res, 404, "unknown_name", "No " + kind + " named '" + name + "'; registered: " + names
        + ".");
  }

  private List<String> available() {
    List<String> out = new ArrayList<>();
    if (queue != null) {
      out.add("reset-queue");
    }
    if (!breakers.isEmpty()) {
      out.add("reset-breakers");
    }
    if (queue != null) {
      out.add("bypass-queue");
      out.add("restore-queue");
    }
    out.add("settings");
    if (configurable()) {
      out.add("configure");
    }
    return out;
  }

  private enum Auth { NONE, WRONG, ADMIN }

  private Auth authenticate(HttpServletRequest req) {
    String header = req.getHeader("Authorization");
    if (header == null) {
      return Auth.NONE;
    }
    if (tokenDigest == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return Auth.WRONG;
    }
    // Comparing digests keeps the comparison constant-time and independent of the token's length.
    byte[] given = sha256(header.substring(7).trim());
    return MessageDigest.isEqual(given, tokenDigest) ? Auth.ADMIN : Auth.WRONG;
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }

  private static void unauthorized(HttpServletResponse res) throws IOException {
    res.setHeader("WWW-Authenticate", "Bearer realm=\"sluice-admin\"");
    error(res, 401, "unauthorized", "A valid admin token is required.");
  }

  private void tooLarge(HttpServletResponse res) throws IOException {
    error(res, 413, "body_too_large", "The body must be at most " + maxBodyBytes + " bytes.");
  }

  private static void error(HttpServletResponse res, int status, String code, String message)
      throws IOException {
    ErrorResponses.write(res, status, -1, ErrorResponses.body(code, message));
  }

  static String summaryJson(HealthReport report) {
    return "{\"status\":" + Json.quote(report.status().name().toLowerCase(Locale.ROOT))
        + ",\"score\":" + report.score() + "}";
  }

  static String fullJson(HealthReport report) {
    StringBuilder sb = new StringBuilder(512);
    sb.append("{\"status\":").append(Json.quote(report.status().name().toLowerCase(Locale.ROOT)))
        .append(",\"score\":").append(report.score()).append(",\"components\":[");
    boolean first = true;
    for (ComponentHealth c : report.components()) {
      if (!first) {
        sb.append(',');
      }
      first = false;
      sb.append("{\"name\":").append(Json.quote(c.name()))
          .append(",\"score\":").append(c.score())
          .append(",\"status\":").append(Json.quote(c.status().name().toLowerCase(Locale.ROOT)))
          .append(",\"figures\":{");
      boolean firstFigure = true;
      for (Map.Entry<String, Object> f : c.figures().entrySet()) {
        if (!firstFigure) {
          sb.append(',');
        }
        firstFigure = false;
        sb.append(Json.quote(f.getKey())).append(':').append(value(f.getValue()));
      }
      sb.append("},\"recommendations\":");
      strings(sb, c.recommendations());
      sb.append('}');
    }
    sb.append("],\"recommendations\":");
    strings(sb, report.recommendations());
    return sb.append('}').toString();
  }

  private static String value(Object v) {
    if (v instanceof Double d && (d.isNaN() || d.isInfinite())) {
      return "null";
    }
    if (v instanceof Float f && (f.isNaN() || f.isInfinite())) {
      return "null";
    }
    if (v instanceof Number || v instanceof Boolean) {
      return v.toString();
    }
    return Json.quote(String.valueOf(v));
  }

  private static void strings(StringBuilder sb, List<String> list) {
    sb.append('[');
    for (int i = 0; i < list.size(); i++) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append(Json.quote(list.get(i)));
    }
    sb.append(']');
  }

  /** Builds {@link HealthServlet}s. Setters validate at once. Not thread-safe. */
  public static final class Builder {
    private final HealthMonitor monitor;
    private String token;
    private RequestQueue<?> queue;
    private final List<CircuitBreaker> breakers = new ArrayList<>();
    private final Map<String, RateLimiter<?>> limiters = new LinkedHashMap<>();
    private int maxBodyBytes = 4096;

    private Builder(HealthMonitor monitor) {
      this.monitor = Objects.requireNonNull(monitor, "monitor");
    }

    /**
     * Enables admin actions and full reports for callers presenting this bearer token.
     *
     * @param token at least 16 characters; null or blank keeps admin actions disabled
     * @return this builder
     * @throws IllegalArgumentException if a non-blank token is shorter than 16 characters
     */
    public Builder adminToken(String token) {
      if (token == null || token.isBlank()) {
        this.token = null;
        return this;
      }
      if (token.trim().length() < 16) {
        throw new IllegalArgumentException(
            "adminToken must be at least 16 characters but was " + token.trim().length());
      }
      this.token = token.trim();
      return this;
    }

    /**
     * Sets the queue that {@code reset-queue}, {@code bypass-queue} and {@code restore-queue}
     * act on.
     *
     * @param queue the queue
     * @return this builder
     * @throws NullPointerException if {@code queue} is null
     */
    public Builder queue(RequestQueue<?> queue) {
      this.queue = Objects.requireNonNull(queue, "queue");
      return this;
    }

    /**
     * Adds circuit breakers that {@code reset-breakers} closes.
     *
     * @param breakers the breakers
     * @return this builder
     * @throws NullPointerException if a breaker is null
     */
    public Builder circuitBreakers(CircuitBreaker... breakers) {
      for (CircuitBreaker b : breakers) {
        this.breakers.add(Objects.requireNonNull(b, "circuit breaker"));
      }
      return this;
    }

    /**
     * Adds rate limiters whose settings {@code settings} shows and {@code configure} changes,
     * by name.
     *
     * @param limiters the limiters, each with a distinct {@link RateLimiter#name()}
     * @return this builder
     * @throws NullPointerException if a limiter is null
     * @throws IllegalArgumentException if two limiters have the same name
     */
    public Builder rateLimiters(RateLimiter<?>... limiters) {
      for (RateLimiter<?> l : limiters) {
        Objects.requireNonNull(l, "rate limiter");
        if (this.limiters.containsKey(l.name())) {
          throw new IllegalArgumentException(
              "rateLimiters must have distinct names but '" + l.name() + "' is repeated");
        }
        this.limiters.put(l.name(), l);
      }
      return this;
    }

    /**
     * Sets the largest admin request body accepted (default 4096 bytes).
     *
     * @param bytes the bound, 16 to 1 MiB
     * @return this builder
     * @throws IllegalArgumentException if out of range
     */
    public Builder maxBodyBytes(int bytes) {
      if (bytes < 16 || bytes > (1 << 20)) {
        throw new IllegalArgumentException("maxBodyBytes must be in [16, 1048576] but was " + bytes);
      }
      this.maxBodyBytes = bytes;
      return this;
    }

    /**
     * Builds the servlet.
     *
     * @return the servlet
     */
    public HealthServlet build() {
      return new HealthServlet(this);
    }
  }
}
