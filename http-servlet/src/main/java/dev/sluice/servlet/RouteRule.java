package dev.sluice.servlet;

import dev.sluice.RateLimiter;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.function.IntPredicate;

/**
 * Which protections apply to a route: a per-client-IP limit, a per-user limit, a queue priority
 * class, a quota, what to do when a shared store fails, and whether the rule only observes.
 *
 * <p>Paths are matched against the container-normalised path inside the context (servlet path plus
 * path info, already decoded and with {@code ..} resolved), so encodings cannot sidestep a rule. A
 * pattern is exact ({@code /api/chat}, which also matches {@code /api/chat/}) or a prefix
 * ({@code /api/*}, which matches {@code /api} and everything below it).
 *
 * <p>The original system's rules, as an example:
 *
 * <pre>{@code
 * RouteRule chat = RouteRule.builder("chat")
 *     .path("/api/chat").methods("POST")
 *     .perIp(RateLimiter.builder().name("chat").limit(5, Duration.ofMinutes(1)).build())
 *     .queuePriority("chat")
 *     .quota("chat")
 *     .build();
 * RouteRule research = RouteRule.builder("research").path("/api/research").methods("POST")
 *     .perIp(RateLimiter.builder().name("research").limit(10, Duration.ofMinutes(1)).build())
 *     .queuePriority("research").build();
 * RouteRule export = RouteRule.builder("export").path("/api/export").methods("POST")
 *     .perIp(RateLimiter.builder().name("export").limit(3, Duration.ofMinutes(1)).build())
 *     .queuePriority("export").build();
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class RouteRule {
  private final String name;
  private final String path;
  private final boolean prefix;
  private final Set<String> methods;
  private final RateLimiter<String> perIp;
  private final RateLimiter<String> perUser;
  private final String queuePriority;
  private final String quota;
  private final int quotaCost;
  private final IntPredicate refundWhen;
  private final boolean failOpen;
  private final boolean shadow;
  private final int maxBodySize;

  private RouteRule(Builder b) {
    this.name = b.name;
    this.prefix = b.path.endsWith("/*");
    this.path = prefix ? b.path.substring(0, b.path.length() - 2) : stripSlash(b.path);
    this.methods = Set.copyOf(b.methods);
    this.perIp = b.perIp;
    this.perUser = b.perUser;
    this.queuePriority = b.queuePriority;
    this.quota = b.quota;
    this.quotaCost = b.quotaCost;
    this.refundWhen = b.refundWhen;
    this.failOpen = b.failOpen;
    this.shadow = b.shadow;
    this.maxBodySize = b.maxBodySize;
  }

  /**
   * The largest request body this rule accepts, read into memory before admission; larger
   * bodies are answered 413.
   *
   * @return the limit in bytes, or -1 to use the filter's {@code maxBodySize}
   */
  public int maxBodySize() {
    return maxBodySize;
  }

  /**
   * Starts a rule.
   *
   * @param name the rule's name, for logs and statistics
   * @return a builder matching every path and method until told otherwise
   * @throws IllegalArgumentException if {@code name} is null or blank
   */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /**
   * Whether this rule applies to a request.
   *
   * @param method the HTTP method
   * @param requestPath the path inside the context, normalised by the container
   * @return true if the rule applies
   */
  public boolean matches(String method, String requestPath) {
    if (!methods.isEmpty() && !methods.contains(method.toUpperCase(Locale.ROOT))) {
      return false;
    }
    String p = stripSlash(requestPath);
    if (prefix) {
      return p.equals(path) || p.startsWith(path.endsWith("/") ? path : path + "/");
    }
    return p.equals(path);
  }

  private static String stripSlash(String p) {
    return p.length() > 1 && p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
  }

  /**
   * The rule's name.
   *
   * @return the name
   */
  public String name() {
    return name;
  }

  /**
   * The per-client-IP limiter.
   *
   * @return the limiter, or null for none
   */
  public RateLimiter<String> perIp() {
    return perIp;
  }

  /**
   * The per-user limiter, applied to authenticated requests only.
   *
   * @return the limiter, or null for none
   */
  public RateLimiter<String> perUser() {
    return perUser;
  }

  /**
   * The queue priority class this route waits in.
   *
   * @return the class name, or null when the route is not queued
   */
  public String queuePriority() {
    return queuePriority;
  }

  /**
   * The quota this route consumes, for authenticated requests.
   *
   * @return the quota name, or null for none
   */
  public String quota() {
    return quota;
  }

  /**
   * Units of quota one request consumes.
   *
   * @return the cost, &gt;= 1
   */
  public int quotaCost() {
    return quotaCost;
  }

  /**
   * Which response statuses give the consumed quota back.
   *
   * @return the predicate; by default {@code status >= 500}
   */
  public IntPredicate refundWhen() {
    return refundWhen;
  }

  /**
   * Whether a failing shared store lets requests through (true) or answers 503 (false).
   *
   * @return the fail-open choice
   */
  public boolean failOpen() {
    return failOpen;
  }

  /**
   * Whether the rule only observes: decisions are computed, counted and logged, nothing refused.
   *
   * @return the shadow choice
   */
  public boolean shadow() {
    return shadow;
  }

  @Override
  public String toString() {
    return "RouteRule[" + name + " " + (methods.isEmpty() ? "*" : methods) + " "
        + path + (prefix ? "/*" : "") + "]";
  }

  /** Builds {@link RouteRule}s. Setters validate at once. Not thread-safe. */
  public static final class Builder {
    private final String name;
    private String path = "/*";
    private final Set<String> methods = new LinkedHashSet<>();
    private RateLimiter<String> perIp;
    private RateLimiter<String> perUser;
    private String queuePriority;
    private String quota;
    private int quotaCost = 1;
    private IntPredicate refundWhen = status -> status >= 500;
    private boolean failOpen;
    private boolean shadow;
    private int maxBodySize = -1;

    private Builder(String name) {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("rule name must be non-blank but was " + name);
      }
      this.name = name;
    }

    /**
     * Sets the path pattern: exact ({@code /api/chat}) or prefix ({@code /api/*}).
     *
     * @param pattern the pattern, starting with {@code /}
     * @return this builder
     * @throws IllegalArgumentException if the pattern does not start with {@code /} or has a
     *     wildcard anywhere but a trailing {@code /*}
     */
    public Builder path(String pattern) {
      if (pattern == null || !pattern.startsWith("/")) {
        throw new IllegalArgumentException(
            "path must start with '/' but was " + (pattern == null ? "null" : "'" + pattern + "'"));
      }
      int star = pattern.indexOf('*');
      if (star >= 0 && (star != pattern.length() - 1 || !pattern.endsWith("/*"))) {
        throw new IllegalArgumentException(
            "path may only end in '/*' as a wildcard but was '" + pattern + "'");
      }
      this.path = pattern;
      return this;
    }

    /**
     * Restricts the rule to some HTTP methods (default: all).
     *
     * @param methods method names, case-insensitive
     * @return this builder
     * @throws IllegalArgumentException if a method is null or blank
     */
    public Builder methods(String... methods) {
      for (String m : methods) {
        if (m == null || m.isBlank()) {
          throw new IllegalArgumentException("methods must be non-blank but one was " + m);
        }
        this.methods.add(m.trim().toUpperCase(Locale.ROOT));
      }
      return this;
    }

    /**
     * Limits each client IP (or IPv6 /64).
     *
     * @param limiter the limiter
     * @return this builder
     * @throws NullPointerException if {@code limiter} is null
     */
    public Builder perIp(RateLimiter<String> limiter) {
      this.perIp = Objects.requireNonNull(limiter, "perIp");
      return this;
    }

    /**
     * Limits each authenticated user.
     *
     * @param limiter the limiter
     * @return this builder
     * @throws NullPointerException if {@code limiter} is null
     */
    public Builder perUser(RateLimiter<String> limiter) {
      this.perUser = Objects.requireNonNull(limiter, "perUser");
      return this;
    }

    /**
     * Queues admitted requests in the filter's queue under this priority class.
     *
     * @param priority a class the queue declares
     * @return this builder
     * @throws IllegalArgumentException if {@code priority} is blank
     */
    public Builder queuePriority(String priority) {
      if (priority == null || priority.isBlank()) {
        throw new IllegalArgumentException("queuePriority must be non-blank but was " + priority);
      }
      this.queuePriority = priority;
      return this;
    }

    /**
     * Consumes one unit of this quota per authenticated request; refunded when the response is a
     * 5xx or the handler throws.
     *
     * @param quota the quota name
     * @return this builder
     * @throws IllegalArgumentException if {@code quota} is blank
     */
    public Builder quota(String quota) {
      return quota(quota, 1);
    }

    /**
     * Consumes {@code cost} units of this quota per authenticated request.
     *
     * @param quota the quota name
     * @param cost units per request, &gt;= 1
     * @return this builder
     * @throws IllegalArgumentException if {@code quota} is blank or {@code cost} &lt; 1
     */
    public Builder quota(String quota, int cost) {
      if (quota == null || quota.isBlank()) {
        throw new IllegalArgumentException("quota must be non-blank but was " + quota);
      }
      if (cost < 1) {
        throw new IllegalArgumentException("quota cost must be >= 1 but was " + cost);
      }
      this.quota = quota;
      this.quotaCost = cost;
      return this;
    }

    /**
     * Chooses which response statuses refund the quota a request consumed (a handler that
     * throws always refunds). Default: {@code status >= 500}; an app that should not charge for
     * its own validation errors can add them, e.g. {@code s -> s >= 500 || s == 400 || s == 413}.
     *
     * @param refundWhen the predicate over the response status
     * @return this builder
     * @throws NullPointerException if {@code refundWhen} is null
     */
    public Builder refundWhen(IntPredicate refundWhen) {
      this.refundWhen = Objects.requireNonNull(refundWhen, "refundWhen");
      return this;
    }

    /**
     * Chooses what a failing shared store means: true lets requests through (logged and counted),
     * false (the default) answers 503. Fail-closed is the default because a quota that fails open
     * is no quota at all; choose open for limits that only smooth traffic. A key the store refuses
     * as an argument ({@link IllegalArgumentException}, such as a user id too long for it) fails
     * closed either way: failing open would exempt that key for good.
     *
     * @param failOpen the choice
     * @return this builder
     */
    public Builder failOpen(boolean failOpen) {
      this.failOpen = failOpen;
      return this;
    }

    /**
     * Sets the largest request body this rule accepts (default: the filter's
     * {@code maxBodySize}, 1 MiB unless set). The body is read into memory, without blocking a
     * thread, before the request takes a queue permit or a quota unit; a larger body is answered
     * 413 {@code body_too_large} as soon as it is known to be larger.
     *
     * @param bytes the limit, &gt;= 0 (0 refuses any body)
     * @return this builder
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    public Builder maxBodySize(int bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException(
            "rule '" + name + "': maxBodySize must be >= 0 but was " + bytes);
      }
      this.maxBodySize = bytes;
      return this;
    }

    /**
     * Turns shadow (dry-run) mode on or off. A shadow rule refuses nothing: its limiters are
     * charged as if it enforced them (so their refusal counts show what enforcement would have
     * refused; give a shadow rule limiters of its own), its quota is only checked, never consumed,
     * and it does not queue. Would-be refusals are counted in {@code shadowRefusals} and logged.
     *
     * @param shadow true to observe only
     * @return this builder
     */
    public Builder shadow(boolean shadow) {
      this.shadow = shadow;
      return this;
    }

    /**
     * Builds the rule.
     *
     * @return an immutable rule
     */
    public RouteRule build() {
      return new RouteRule(this);
    }
  }
}
