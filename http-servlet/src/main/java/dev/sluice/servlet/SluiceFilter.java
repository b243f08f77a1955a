package dev.sluice.servlet;

import dev.sluice.NanoClock;
import dev.sluice.QuotaDecision;
import dev.sluice.QuotaGate;
import dev.sluice.QuotaStoreException;
import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimitStoreException;
import dev.sluice.RateLimiter;
import dev.sluice.servlet.internal.ErrorResponses;
import dev.sluice.servlet.internal.Json;
import dev.sluice.servlet.internal.RuleCounters;
import dev.sluice.servlet.internal.ThrottledLog;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The servlet filter that applies Sluice's layers to matching routes, in this order, outermost
 * first: per-client-IP limit, per-user limit, quota, then the handler.
 *
 * <ul>
 *   <li>A refused limit answers 429 with {@code Retry-After} (whole seconds, rounded up), the IETF
 *       draft {@code RateLimit-Policy} and {@code RateLimit} headers, and
 *       {@code {"error":"rate_limited","message":…,"retryAfterSeconds":…}}.
 *   <li>An exhausted quota answers 429 with {@code "error":"quota_exceeded"}, the limit and when it
 *       resets. The quota is consumed with a fresh request id (request attribute
 *       {@value #REQUEST_ID_ATTRIBUTE}) and refunded when the handler throws or answers 5xx.
 *   <li>Admitted responses carry the RateLimit headers too, unless switched off.
 *   <li>A shared store that fails follows the rule's fail-open or fail-closed choice (closed
 *       answers 503 {@code "error":"unavailable"}); it is logged at most once per interval and
 *       counted in {@link #stats()}.
 *   <li>A shadow rule computes, counts and logs its decisions but refuses nothing.
 * </ul>
 *
 * <p>Error bodies are JSON, valid whatever a message contains, and carry
 * {@code Cache-Control: no-store}. Client mistakes and refusals are never logged at ERROR.
 *
 * <p>Anonymous requests (no user from the {@link UserKeyResolver}) are limited per IP only; put
 * authentication before this filter so quotas and per-user limits apply.
 *
 * <pre>{@code
 * SluiceFilter filter = SluiceFilter.builder()
 *     .rule(chatRule).rule(researchRule)
 *     .clientAddressResolver(ClientAddressResolver.builder().trustedProxies("10.0.0.0/8").build())
 *     .userKeyResolver(UserKeyResolver.requestAttribute("user"))
 *     .quotaGate(quotaRepository)
 *     .build();
 * context.addFilter(new FilterHolder(filter), "/*", EnumSet.of(DispatcherType.REQUEST));
 * }</pre>
 *
 * <p>Thread-safe: one instance serves all requests.
 */
public final class SluiceFilter implements Filter {
  /** The request attribute holding the request id the quota was consumed with. */
  public static final String REQUEST_ID_ATTRIBUTE = "dev.sluice.requestId";
  /** The request attribute holding the {@link QuotaDecision} of an admitted request. */
  public static final String QUOTA_ATTRIBUTE = "dev.sluice.quota";

  private static final Logger LOG = LoggerFactory.getLogger(SluiceFilter.class);

  private final List<RouteRule> rules;
  private final Map<String, RuleCounters> counters;
  private final ClientAddressResolver addresses;
  private final UserKeyResolver users;
  private final QuotaGate quotaGate;
  private final boolean headersOnAdmitted;
  private final ThrottledLog storeFailureLog;
  private final ThrottledLog shadowLog;

  private SluiceFilter(Builder b) {
    this.rules = List.copyOf(b.rules);
    Map<String, RuleCounters> c = new LinkedHashMap<>();
    for (RouteRule r : rules) {
      c.put(r.name(), new RuleCounters());
    }
    this.counters = c;
    this.addresses = b.addresses;
    this.users = b.users;
    this.quotaGate = b.quotaGate;
    this.headersOnAdmitted = b.headersOnAdmitted;
    this.storeFailureLog = new ThrottledLog(LOG, b.clock, b.logInterval.toNanos());
    this.shadowLog = new ThrottledLog(LOG, b.clock, b.logInterval.toNanos());
  }

  /**
   * Starts a builder.
   *
   * @return a builder with no rules, the socket-only address resolver, the principal user
   *     resolver, RateLimit headers on admitted responses, and a one-minute log interval
   */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    if (!(req instanceof HttpServletRequest request)
        || !(res instanceof HttpServletResponse response)) {
      chain.doFilter(req, res);
      return;
    }
    RouteRule rule = match(request);
    if (rule == null) {
      chain.doFilter(req, res);
      return;
    }
    RuleCounters count = counters.get(rule.name());
    String user = users.resolve(request);
    List<RateLimitDecision> decisions = new ArrayList<>(2);

    if (rule.perIp() != null
        && !limit(rule, count, rule.perIp(), addresses.resolve(request), decisions, response)) {
      return;
    }
    if (rule.perUser() != null && user != null
        && !limit(rule, count, rule.perUser(), user, decisions, response)) {
      return;
    }

    String requestId = null;
    if (rule.quota() != null && user != null) {
      requestId = UUID.randomUUID().toString();
      request.setAttribute(REQUEST_ID_ATTRIBUTE, requestId);
      if (!consume(rule, count, user, requestId, request, response)) {
        return;
      }
    }

    if (headersOnAdmitted && !decisions.isEmpty() && !rule.shadow()) {
      response.setHeader(RateLimitHeaders.POLICY, RateLimitHeaders.policy(decisions));
      response.setHeader(RateLimitHeaders.STATE, RateLimitHeaders.state(decisions));
    }
    count.admitted.increment();
    runHandler(rule, user, requestId, request, response, chain);
  }

  private void runHandler(RouteRule rule, String user, String requestId,
      HttpServletRequest request, HttpServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    boolean failed = true;
    try {
      chain.doFilter(request, response);
      failed = response.getStatus() >= 500;
    } finally {
      if (failed && requestId != null) {
        refund(rule, user, requestId);
      }
    }
  }

  private void refund(RouteRule rule, String user, String requestId) {
    try {
      quotaGate.refund(user, rule.quota(), requestId);
    } catch (RuntimeException e) {
      counters.get(rule.name()).storeFailures.increment();
      storeFailureLog.warn("quota refund failed for rule '" + rule.name() + "'", e);
    }
  }

  /** Returns false when the request was answered (refused). */
  private boolean limit(RouteRule rule, RuleCounters count, RateLimiter<String> limiter,
      String key, List<RateLimitDecision> decisions, HttpServletResponse response)
      throws IOException {
    RateLimitDecision d;
    try {
      d = limiter.tryAcquire(key);
    } catch (RateLimitStoreException e) {
      return storeFailed(rule, count, "rate-limit store for '" + limiter.name() + "'", e, response);
    }
    decisions.add(d);
    if (d.allowed()) {
      return true;
    }
    if (rule.shadow()) {
      count.shadowRefusals.increment();
      shadowLog.warn("shadow rule '" + rule.name() + "' would have refused key " + key
          + " by limit '" + d.policy() + "'", null);
      return true;
    }
    count.rateLimited.increment();
    response.setHeader(RateLimitHeaders.POLICY, RateLimitHeaders.policy(List.of(d)));
    response.setHeader(RateLimitHeaders.STATE, RateLimitHeaders.state(List.of(d)));
    long seconds = d.retryAfterSeconds();
    ErrorResponses.write(response, 429, seconds, ErrorResponses.body("rate_limited",
        "Too many requests: try again in " + seconds + " s.",
        "retryAfterSeconds", seconds, "policy", Json.quote(d.policy())));
    return false;
  }

  /** Returns false when the request was answered (refused). */
  private boolean consume(RouteRule rule, RuleCounters count, String user, String requestId,
      HttpServletRequest request, HttpServletResponse response) throws IOException {
    QuotaDecision q;
    try {
      q = quotaGate.consume(user, rule.quota(), rule.quotaCost(), requestId);
    } catch (QuotaStoreException e) {
      return storeFailed(rule, count, "quota store for '" + rule.quota() + "'", e, response);
    }
    request.setAttribute(QUOTA_ATTRIBUTE, q);
    if (q.allowed()) {
      return true;
    }
    if (rule.shadow()) {
      count.shadowRefusals.increment();
      shadowLog.warn("shadow rule '" + rule.name() + "' would have refused user " + user
          + " by quota '" + q.quota() + "'", null);
      return true;
    }
    count.quotaExceeded.increment();
    long seconds = Math.max(1, Duration.between(java.time.Instant.now(), q.resetsAt())
        .plusMillis(999).toSeconds());
    ErrorResponses.write(response, 429, seconds, ErrorResponses.body("quota_exceeded",
        "Quota '" + q.quota() + "' used up: " + q.used() + " of " + q.limit()
            + ". It resets at " + q.resetsAt() + ".",
        "quota", Json.quote(q.quota()), "limit", q.limit(), "used", q.used(),
        "remaining", q.remaining(), "resetsAt", Json.quote(q.resetsAt().toString()),
        "retryAfterSeconds", seconds));
    return false;
  }

  private boolean storeFailed(RouteRule rule, RuleCounters count, String what,
      RuntimeException e, HttpServletResponse response) throws IOException {
    count.storeFailures.increment();
    storeFailureLog.warn(what + " failed; rule '" + rule.name() + "' fails "
        + (rule.failOpen() || rule.shadow() ? "open" : "closed"), e);
    if (rule.failOpen() || rule.shadow()) {
      return true;
    }
    ErrorResponses.write(response, 503, 1, ErrorResponses.body("unavailable",
        "The service cannot check its limits right now. Please retry shortly.",
        "retryAfterSeconds", 1));
    return false;
  }

  private RouteRule match(HttpServletRequest request) {
    String path = request.getServletPath();
    String info = request.getPathInfo();
    if (info != null) {
      path = path + info;
    }
    if (path.isEmpty()) {
      path = "/";
    }
    String method = request.getMethod();
    for (RouteRule rule : rules) {
      if (rule.matches(method, path)) {
        return rule;
      }
    }
    return null;
  }

  /**
   * What the filter has done since it started, summed over rules.
   *
   * @return the totals
   */
  public FilterStats stats() {
    List<FilterStats> parts = new ArrayList<>();
    for (RuleCounters c : counters.values()) {
      parts.add(c.snapshot());
    }
    return RuleCounters.sum(parts);
  }

  /**
   * What the filter has done for one rule.
   *
   * @param rule the rule's name
   * @return the rule's counts
   * @throws IllegalArgumentException if no rule has that name
   */
  public FilterStats stats(String rule) {
    RuleCounters c = counters.get(rule);
    if (c == null) {
      throw new IllegalArgumentException("no rule named '" + rule + "'; rules: " + counters.keySet());
    }
    return c.snapshot();
  }

  /**
   * The rules, in matching order.
   *
   * @return the rules
   */
  public List<RouteRule> rules() {
    return rules;
  }

  /** Builds {@link SluiceFilter}s. Setters validate at once; {@link #build()} checks the rules. */
  public static final class Builder {
    private final List<RouteRule> rules = new ArrayList<>();
    private ClientAddressResolver addresses = ClientAddressResolver.socketOnly();
    private UserKeyResolver users = UserKeyResolver.principal();
    private QuotaGate quotaGate;
    private boolean headersOnAdmitted = true;
    private Duration logInterval = Duration.ofMinutes(1);
    private NanoClock clock = NanoClock.system();

    private Builder() {}

    /**
     * Adds a rule; the first rule that matches a request applies.
     *
     * @param rule the rule
     * @return this builder
     * @throws NullPointerException if {@code rule} is null
     * @throws IllegalArgumentException if a rule with the same name was added
     */
    public Builder rule(RouteRule rule) {
      Objects.requireNonNull(rule, "rule");
      for (RouteRule r : rules) {
        if (r.name().equals(rule.name())) {
          throw new IllegalArgumentException("rule name '" + rule.name() + "' is used twice");
        }
      }
      rules.add(rule);
      return this;
    }

    /**
     * Sets how client IPs are found (default: the socket peer only).
     *
     * @param resolver the resolver
     * @return this builder
     * @throws NullPointerException if {@code resolver} is null
     */
    public Builder clientAddressResolver(ClientAddressResolver resolver) {
      this.addresses = Objects.requireNonNull(resolver, "clientAddressResolver");
      return this;
    }

    /**
     * Sets how the authenticated user is found (default: the request's principal).
     *
     * @param resolver the resolver
     * @return this builder
     * @throws NullPointerException if {@code resolver} is null
     */
    public Builder userKeyResolver(UserKeyResolver resolver) {
      this.users = Objects.requireNonNull(resolver, "userKeyResolver");
      return this;
    }

    /**
     * Sets the quota store rules with a {@link RouteRule#quota()} consume from.
     *
     * @param gate the quota gate, such as {@code AtomicQuotaRepository}
     * @return this builder
     * @throws NullPointerException if {@code gate} is null
     */
    public Builder quotaGate(QuotaGate gate) {
      this.quotaGate = Objects.requireNonNull(gate, "quotaGate");
      return this;
    }

    /**
     * Turns the RateLimit headers on admitted responses on (default) or off.
     *
     * @param on the choice
     * @return this builder
     */
    public Builder rateLimitHeadersOnAdmitted(boolean on) {
      this.headersOnAdmitted = on;
      return this;
    }

    /**
     * Sets the least time between two log lines about the same recurring condition (a failing
     * store, shadow refusals). Default one minute.
     *
     * @param interval a positive duration
     * @return this builder
     * @throws IllegalArgumentException if {@code interval} is null, zero or negative
     */
    public Builder logInterval(Duration interval) {
      if (interval == null || interval.isZero() || interval.isNegative()) {
        throw new IllegalArgumentException("logInterval must be > 0 but was " + interval);
      }
      this.logInterval = interval;
      return this;
    }

    /**
     * Sets the clock used for log throttling.
     *
     * @param clock the clock
     * @return this builder
     * @throws NullPointerException if {@code clock} is null
     */
    public Builder clock(NanoClock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Builds the filter.
     *
     * @return the filter
     * @throws IllegalStateException if a rule names a quota but no quota gate is set
     */
    public SluiceFilter build() {
      for (RouteRule r : rules) {
        if (r.quota() != null && quotaGate == null) {
          throw new IllegalStateException(
              "rule '" + r.name() + "' consumes quota '" + r.quota() + "' but no quotaGate is set");
        }
      }
      return new SluiceFilter(this);
    }
  }
}
