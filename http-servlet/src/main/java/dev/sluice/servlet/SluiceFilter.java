package dev.sluice.servlet;

import dev.sluice.ComponentHealth;
import dev.sluice.HealthContributor;
import dev.sluice.NanoClock;
import dev.sluice.QueueRejectedException;
import dev.sluice.QuotaDecision;
import dev.sluice.QuotaGate;
import dev.sluice.QuotaStoreException;
import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimitStoreException;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.servlet.internal.BufferedBodyRequest;
import dev.sluice.servlet.internal.ErrorResponses;
import dev.sluice.servlet.internal.Json;
import dev.sluice.servlet.internal.RuleCounters;
import dev.sluice.servlet.internal.ThrottledLog;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The servlet filter that applies Sluice's layers to matching routes, in this order, outermost
 * first: per-client-IP limit, per-user limit, quota, queue, then the handler.
 *
 * <ul>
 *   <li>A refused limit answers 429 with {@code Retry-After} (whole seconds, rounded up), the IETF
 *       draft {@code RateLimit-Policy} and {@code RateLimit} headers, and
 *       {@code {"error":"rate_limited","message":…,"retryAfterSeconds":…}}.
 *   <li>An exhausted quota answers 429 with {@code "error":"quota_exceeded"}, the limit and when it
 *       resets. The quota is consumed with a fresh request id (request attribute
 *       {@value #REQUEST_ID_ATTRIBUTE}) and refunded when the handler throws or its status matches
 *       the rule's {@link RouteRule#refundWhen()} (5xx by default).
 *   <li>Admitted responses carry the RateLimit headers too, unless switched off.
 *   <li>A shared store that fails follows the rule's fail-open or fail-closed choice (closed
 *       answers 503 {@code "error":"unavailable"}); it is logged at most once per interval and
 *       counted in {@link #stats()}.
 *   <li>A queued rule takes a {@link RequestQueue} permit for the user (or, for anonymous
 *       requests, the client address) in the rule's priority class. When none is free the request
 *       waits in servlet async mode, holding no container thread, and is dispatched again when
 *       its permit arrives. Queue full, wait timed out or queue drained answers 503 with
 *       {@code Retry-After} and {@code {"error":"overloaded",…}}. A client that goes away while
 *       waiting gives its place back ({@code AsyncListener}, plus the {@link DisconnectWatcher}).
 *       The permit is released exactly once, when the handler returns, or when an asynchronous
 *       handler completes, errs or times out. Register the filter for the {@code REQUEST} and
 *       {@code ASYNC} dispatcher types.
 *   <li>A shadow rule computes, counts and logs its limit and quota decisions but refuses
 *       nothing; it does not queue.
 * </ul>
 *
 * <p>Before a request waits, its body (when its length is known and at most
 * {@link Builder#maxBufferedBody(int)} bytes) is read into memory, so the connection can be
 * watched for a departing client; the handler reads the buffered copy as usual.
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
  /** Marks a request re-dispatched after waiting; holds its {@link Admission}. */
  private static final String ADMISSION_ATTRIBUTE = "dev.sluice.admission";

  private static final Logger LOG = LoggerFactory.getLogger(SluiceFilter.class);

  private final String name;
  private final List<RouteRule> rules;
  private final Map<String, RuleCounters> counters;
  private final ClientAddressResolver addresses;
  private final UserKeyResolver users;
  private final QuotaGate quotaGate;
  private final RequestQueue<String> queue;
  private final DisconnectWatcher watcher;
  private final int maxBufferedBody;
  private final boolean headersOnAdmitted;
  private final ThrottledLog storeFailureLog;
  private final NanoClock clock;
  private final long logIntervalNanos;
  private final AtomicLong lastStoreFailure = new AtomicLong(Long.MIN_VALUE);
  private final ThrottledLog shadowLog;

  private SluiceFilter(Builder b) {
    this.name = b.name;
    this.rules = List.copyOf(b.rules);
    Map<String, RuleCounters> c = new LinkedHashMap<>();
    for (RouteRule r : rules) {
      c.put(r.name(), new RuleCounters(policyHeader(r.perIp()), policyHeader(r.perUser()),
          r.perIp() == null || r.perUser() == null ? null
              : policyHeader(r.perIp()) + ", " + policyHeader(r.perUser())));
    }
    this.counters = c;
    this.addresses = b.addresses;
    this.users = b.users;
    this.quotaGate = b.quotaGate;
    this.queue = b.queue;
    this.watcher = b.watcher;
    this.maxBufferedBody = b.maxBufferedBody;
    this.headersOnAdmitted = b.headersOnAdmitted;
    this.storeFailureLog = new ThrottledLog(LOG, b.clock, b.logInterval.toNanos());
    this.clock = b.clock;
    this.logIntervalNanos = b.logInterval.toNanos();
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
    if (request.getDispatcherType() == DispatcherType.ASYNC
        && request.getAttribute(ADMISSION_ATTRIBUTE) instanceof Admission admission) {
      request.removeAttribute(ADMISSION_ATTRIBUTE);
      admission.run(request, response, chain);
      return;
    }
    if (request.getDispatcherType() != DispatcherType.REQUEST) {
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

    Admission admission = new Admission(rule, count, user, requestId, decisions);
    if (rule.queuePriority() == null || rule.shadow() || queue == null) {
      admission.run(request, response, chain);
      return;
    }
    String queueKey = user != null ? user : addresses.resolve(request);
    CompletableFuture<RequestQueue.Permit> permit =
        queue.acquireAsync(queueKey, rule.queuePriority());
    if (permit.isDone()) {
      // Free slot or immediate refusal: no need to suspend the request.
      RequestQueue.Permit granted;
      try {
        granted = permit.join();
      } catch (CompletionException | CancellationException e) {
        shed(admission, response, e);
        return;
      }
      admission.permit = granted;
      admission.run(request, response, chain);
      return;
    }
    waitInQueue(admission, permit, request, response);
  }

  /** Suspends the request until the queue grants a permit, refuses, or the client leaves. */
  private void waitInQueue(Admission admission, CompletableFuture<RequestQueue.Permit> permit,
      HttpServletRequest request, HttpServletResponse response) throws IOException {
    HttpServletRequest waiting = request;
    boolean bodyRead = !hasBody(request);
    long length = request.getContentLengthLong();
    Waiter waiter;
    try {
      if (!bodyRead && length >= 0 && length <= maxBufferedBody) {
        waiting = new BufferedBodyRequest(request, request.getInputStream().readAllBytes());
        bodyRead = true;
      }
      AsyncContext async = request.startAsync(waiting, response);
      async.setTimeout(0); // the queue's own timeout ends the wait
      waiter = new Waiter(admission, async, response, permit);
      async.addListener(waiter);
    } catch (IOException | RuntimeException e) {
      permit.cancel(false);
      permit.thenAccept(RequestQueue.Permit::close); // in case it was granted meanwhile
      admission.settle(true);
      throw e;
    }
    if (bodyRead) {
      waiter.watch = watcher.watch(request, waiter::abandon);
    }
    permit.whenComplete(waiter::granted);
  }

  /** Answers 503 overloaded for a queue refusal. */
  private void shed(Admission admission, HttpServletResponse response, Throwable failure) {
    Throwable cause = failure instanceof CompletionException && failure.getCause() != null
        ? failure.getCause() : failure;
    admission.settle(true);
    admission.count.shed.increment();
    long seconds = 1;
    String reason = "unavailable";
    if (cause instanceof QueueRejectedException q) {
      seconds = Math.max(1, q.retryAfterSeconds());
      reason = q.reason().name().toLowerCase(Locale.ROOT);
    }
    try {
      ErrorResponses.write(response, 503, seconds, ErrorResponses.body("overloaded",
          "The service is busy. Please wait " + seconds + " s and try again.",
          "reason", Json.quote(reason), "retryAfterSeconds", seconds));
    } catch (IOException | RuntimeException e) {
      LOG.debug("could not send 503 to a client that left", e);
    }
  }

  private static boolean hasBody(HttpServletRequest request) {
    return request.getContentLengthLong() > 0 || request.getHeader("Transfer-Encoding") != null;
  }

  /**
   * One admitted request's obligations: its headers, its permit (released once) and its quota
   * (refunded at most once, when the handler fails).
   */
  private final class Admission {
    final RouteRule rule;
    final RuleCounters count;
    final String user;
    final String requestId;
    final List<RateLimitDecision> decisions;
    volatile RequestQueue.Permit permit;
    private final AtomicBoolean settled = new AtomicBoolean();

    Admission(RouteRule rule, RuleCounters count, String user, String requestId,
        List<RateLimitDecision> decisions) {
      this.rule = rule;
      this.count = count;
      this.user = user;
      this.requestId = requestId;
      this.decisions = decisions;
    }

    void run(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
        throws IOException, ServletException {
      if (headersOnAdmitted && !decisions.isEmpty() && !rule.shadow()) {
        response.setHeader(RateLimitHeaders.POLICY, count.policyHeader(decisions, rule));
        response.setHeader(RateLimitHeaders.STATE, RateLimitHeaders.state(decisions));
      }
      count.admitted.increment();
      boolean threw = true;
      try {
        chain.doFilter(request, response);
        threw = false;
      } finally {
        if (!threw && request.isAsyncStarted()) {
          // The handler went asynchronous: settle when it completes, errs or times out.
          request.getAsyncContext().addListener(new AsyncListener() {
            @Override
            public void onComplete(AsyncEvent event) {
              settle(rule.refundWhen().test(response.getStatus()));
            }

            @Override
            public void onTimeout(AsyncEvent event) {
              settle(true);
            }

            @Override
            public void onError(AsyncEvent event) {
              settle(true);
            }

            @Override
            public void onStartAsync(AsyncEvent event) {
              event.getAsyncContext().addListener(this);
            }
          });
        } else {
          settle(threw || rule.refundWhen().test(response.getStatus()));
        }
      }
    }

    /** Releases the permit and refunds a failed request's quota; only the first call acts. */
    void settle(boolean failed) {
      if (!settled.compareAndSet(false, true)) {
        return;
      }
      RequestQueue.Permit p = permit;
      if (p != null) {
        p.close();
      }
      if (failed && requestId != null) {
        refund(rule, user, requestId);
      }
    }
  }

  /** A request suspended in the queue. Exactly one of granted, refused or abandoned wins. */
  private final class Waiter implements AsyncListener {
    private static final int WAITING = 0;
    private static final int DISPATCHED = 1;
    private static final int ENDED = 2;

    final Admission admission;
    final AsyncContext async;
    final HttpServletResponse response;
    final AtomicInteger state = new AtomicInteger(WAITING);
    final CompletableFuture<RequestQueue.Permit> future;
    volatile DisconnectWatcher.Watch watch = DisconnectWatcher.Watch.NONE;

    Waiter(Admission admission, AsyncContext async, HttpServletResponse response,
        CompletableFuture<RequestQueue.Permit> future) {
      this.admission = admission;
      this.async = async;
      this.response = response;
      this.future = future;
    }

    void granted(RequestQueue.Permit permit, Throwable failure) {
      if (failure == null) {
        if (!state.compareAndSet(WAITING, DISPATCHED)) {
          permit.close(); // the client left first: the permit goes straight to the next waiter
          return;
        }
        watch.close();
        if (watch.consumedInput()) {
          response.setHeader("Connection", "close");
        }
        admission.permit = permit;
        async.getRequest().setAttribute(ADMISSION_ATTRIBUTE, admission);
        try {
          async.dispatch();
        } catch (IllegalStateException e) {
          admission.settle(true);
        }
        return;
      }
      Throwable cause = failure instanceof CompletionException && failure.getCause() != null
          ? failure.getCause() : failure;
      if (cause instanceof CancellationException || !state.compareAndSet(WAITING, ENDED)) {
        return; // abandoned: already accounted for
      }
      watch.close();
      try {
        shed(admission, response, cause);
      } finally {
        complete();
      }
    }

    /** The client went away (or the container gave up on the request) while it waited. */
    void abandon() {
      if (!state.compareAndSet(WAITING, ENDED)) {
        return;
      }
      watch.close();
      future.cancel(false);
      admission.count.abandoned.increment();
      admission.settle(true);
      complete();
    }

    private void complete() {
      try {
        async.complete();
      } catch (IllegalStateException e) {
        LOG.debug("async context already completed", e);
      }
    }

    @Override
    public void onComplete(AsyncEvent event) {
      // Safety net: whatever path ended the exchange (even a filter not registered for ASYNC
      // dispatches), the permit is released, exactly once.
      if (state.get() == WAITING) {
        abandon();
      } else if (state.get() == DISPATCHED) {
        admission.settle(admission.rule.refundWhen().test(response.getStatus()));
      }
    }

    @Override
    public void onTimeout(AsyncEvent event) {
      abandon();
    }

    @Override
    public void onError(AsyncEvent event) {
      abandon();
    }

    @Override
    public void onStartAsync(AsyncEvent event) {}
  }

  private void refund(RouteRule rule, String user, String requestId) {
    try {
      quotaGate.refund(user, rule.quota(), requestId);
    } catch (RuntimeException e) {
      noteStoreFailure(counters.get(rule.name()), "quota refund failed for rule '" + rule.name()
          + "'", e);
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
    long seconds = Math.max(1, Duration.between(Instant.now(), q.resetsAt())
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
    noteStoreFailure(count, what + " failed; rule '" + rule.name() + "' fails "
        + (rule.failOpen() || rule.shadow() ? "open" : "closed"), e);
    if (rule.failOpen() || rule.shadow()) {
      return true;
    }
    ErrorResponses.write(response, 503, 1, ErrorResponses.body("unavailable",
        "The service cannot check its limits right now. Please retry shortly.",
        "retryAfterSeconds", 1));
    return false;
  }

  /** The constant {@code RateLimit-Policy} item of a limiter, formatted once per rule. */
  private static String policyHeader(RateLimiter<String> limiter) {
    return limiter == null ? null : RateLimitHeaders.policy(List.of(new RateLimitDecision(
        true, limiter.limit(), 0, 0, 0, limiter.period().toNanos(), limiter.name())));
  }

  /** Counts a store failure, marks the filter unhealthy for a log interval, logs (throttled). */
  private void noteStoreFailure(RuleCounters count, String message, RuntimeException e) {
    count.storeFailures.increment();
    lastStoreFailure.set(clock.nanoTime());
    storeFailureLog.warn(message, e);
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
   * The filter's name, as given to {@link Builder#name(String)}.
   *
   * @return the name
   */
  public String name() {
    return name;
  }

  /**
   * A health contributor named after the filter ({@code filter}, or {@code filter:<name>} when
   * named): the filter's totals as figures, scored 100, or 40
   * with a recommendation while a shared store (rate limits, quota) has failed within the last
   * log interval.
   *
   * @return the contributor
   */
  public HealthContributor healthContributor() {
    return () -> {
      FilterStats t = stats();
      Map<String, Object> figures = new LinkedHashMap<>();
      figures.put("admitted", t.admitted());
      figures.put("rateLimited", t.rateLimited());
      figures.put("quotaExceeded", t.quotaExceeded());
      figures.put("shed", t.shed());
      figures.put("storeFailures", t.storeFailures());
      figures.put("shadowRefusals", t.shadowRefusals());
      figures.put("abandoned", t.abandoned());
      long last = lastStoreFailure.get();
      boolean failing = last != Long.MIN_VALUE && clock.nanoTime() - last < logIntervalNanos;
      figures.put("storeFailing", failing);
      List<String> advice = failing
          ? List.of("a rate-limit or quota store is failing (" + t.storeFailures()
              + " failures so far): check the database; rules fail open or closed as configured")
          : List.of();
      String component = name.equals("filter") ? "filter" : "filter:" + name;
      return new ComponentHealth(component, failing ? 40 : 100, figures, advice);
    };
  }

  /**
   * The queue queued rules wait in.
   *
   * @return the queue, or null when none is set
   */
  public RequestQueue<String> queue() {
    return queue;
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
    private String name = "filter";
    private final List<RouteRule> rules = new ArrayList<>();
    private ClientAddressResolver addresses = ClientAddressResolver.socketOnly();
    private UserKeyResolver users = UserKeyResolver.principal();
    private QuotaGate quotaGate;
    private RequestQueue<String> queue;
    private DisconnectWatcher watcher = DisconnectWatcher.automatic();
    private int maxBufferedBody = 1 << 20;
    private boolean headersOnAdmitted = true;
    private Duration logInterval = Duration.ofMinutes(1);
    private NanoClock clock = NanoClock.system();

    private Builder() {}

    /**
     * Names the filter, for its health component and logs, when an app runs several (for
     * example per-IP limits before authentication and quotas after it).
     *
     * @param name a non-blank name; default {@code "filter"}
     * @return this builder
     * @throws IllegalArgumentException if {@code name} is null or blank
     */
    public Builder name(String name) {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("name must be non-blank but was " + name);
      }
      this.name = name;
      return this;
    }

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
     * Sets the queue that rules with a {@link RouteRule#queuePriority()} wait in. Keys are user
     * keys, or client addresses for anonymous requests.
     *
     * @param queue the queue
     * @return this builder
     * @throws NullPointerException if {@code queue} is null
     */
    public Builder queue(RequestQueue<String> queue) {
      this.queue = Objects.requireNonNull(queue, "queue");
      return this;
    }

    /**
     * Sets how departing clients of queued requests are noticed (default
     * {@link DisconnectWatcher#automatic()}).
     *
     * @param watcher the watcher
     * @return this builder
     * @throws NullPointerException if {@code watcher} is null
     */
    public Builder disconnectWatcher(DisconnectWatcher watcher) {
      this.watcher = Objects.requireNonNull(watcher, "disconnectWatcher");
      return this;
    }

    /**
     * Sets the largest request body read into memory before a request waits in the queue
     * (default 1 MiB). Larger bodies, and bodies of unknown length, stay on the connection; such
     * requests are then watched only through {@code AsyncListener}.
     *
     * @param bytes the bound, &gt;= 0
     * @return this builder
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    public Builder maxBufferedBody(int bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("maxBufferedBody must be >= 0 but was " + bytes);
      }
      this.maxBufferedBody = bytes;
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
     * @throws IllegalStateException if a rule names a quota but no quota gate is set, or a queue
     *     priority but no queue, or a priority class the queue does not declare
     */
    public SluiceFilter build() {
      for (RouteRule r : rules) {
        if (r.queuePriority() != null && queue == null) {
          throw new IllegalStateException("rule '" + r.name() + "' queues in class '"
              + r.queuePriority() + "' but no queue is set");
        }
        if (r.queuePriority() != null && !queue.priorities().contains(r.queuePriority())) {
          throw new IllegalStateException("rule '" + r.name() + "' queues in class '"
              + r.queuePriority() + "' but queue '" + queue.name() + "' declares only "
              + queue.priorities());
        }
        if (r.quota() != null && quotaGate == null) {
          throw new IllegalStateException(
              "rule '" + r.name() + "' consumes quota '" + r.quota() + "' but no quotaGate is set");
        }
      }
      return new SluiceFilter(this);
    }
  }
}
