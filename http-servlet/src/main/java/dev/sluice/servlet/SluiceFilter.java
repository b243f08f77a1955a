package dev.sluice.servlet;

import dev.sluice.ComponentHealth;
import dev.sluice.HealthContributor;
import dev.sluice.NanoClock;
import dev.sluice.QuotaDecision;
import dev.sluice.QuotaGate;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.TaskScheduler;
import dev.sluice.servlet.internal.RuleCounters;
import dev.sluice.servlet.internal.ThrottledLog;
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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The servlet filter that applies Sluice's layers to matching routes, in this order, outermost
 * first: body size, per-client-IP limit, per-user limit, the body itself, quota, queue, then the
 * handler. It only matches a route and hands the request to one admission; the steps are listed
 * in {@code Admission}, the answers in {@code Refusals}.
 *
 * <ul>
 *   <li>A body larger than the rule's {@link RouteRule#maxBodySize()} (or the filter's
 *       {@link Builder#maxBodySize(int)}) answers 413 {@code body_too_large}, before any limit or
 *       permit is spent.
 *   <li>A refused limit answers 429 with {@code Retry-After} (whole seconds, rounded up), the IETF
 *       draft {@code RateLimit-Policy} and {@code RateLimit} headers, and
 *       {@code {"error":"rate_limited","message":…,"retryAfterSeconds":…}}.
 *   <li>The body is then read into memory with servlet non-blocking I/O: no container thread and
 *       no queue permit waits for a slow client. It must arrive within
 *       {@link Builder#bodyTimeout(Duration)} plus its size at {@link Builder#minBodyRate(int)};
 *       a slower client gets 408 {@code body_timeout}. A client that leaves meanwhile is counted
 *       in {@link FilterStats#clientAborts()}, never as an error.
 *   <li>An exhausted quota answers 429 with {@code "error":"quota_exceeded"}, the limit and when it
 *       resets. The quota is consumed with a fresh request id (request attribute
 *       {@value #REQUEST_ID_ATTRIBUTE}) and refunded when the handler throws or its status matches
 *       the rule's {@link RouteRule#refundWhen()} (5xx by default).
 *   <li>Admitted responses carry the RateLimit headers too, unless switched off.
 *   <li>A shared store that fails, or answers with an error of any kind, follows the rule's
 *       fail-open or fail-closed choice (closed answers 503 {@code "error":"unavailable"}); it is
 *       logged at most once per interval and counted in {@link #stats()}.
 *   <li>A queued rule takes a {@link RequestQueue} permit for the user (or, for anonymous
 *       requests, the client address) in the rule's priority class. When none is free the request
 *       waits in servlet async mode, holding no container thread, and is dispatched again when
 *       its permit arrives. Queue full, wait timed out or queue drained answers 503 with
 *       {@code Retry-After} and {@code {"error":"overloaded",…}}. A client that goes away while
 *       waiting gives its place back ({@code AsyncListener}, plus the {@link DisconnectWatcher}).
 *       The permit is released exactly once, when the handler returns, or when an asynchronous
 *       handler completes, errs or times out. Register the filter for the {@code REQUEST} and
 *       {@code ASYNC} dispatcher types.
 *   <li>A handler that throws gets a 500 JSON answer when it had sent nothing; a client abort
 *       while it reads or writes is counted, not logged as an error.
 *   <li>A shadow rule computes, counts and logs its limit and quota decisions but refuses
 *       nothing: its limiters are charged, its quota is only checked, it does not queue.
 *   <li>A limiter on a shared, remote store ({@link RateLimiter#isLocal()} false: PostgreSQL,
 *       Redis) is asked with {@link RateLimiter#tryAcquireAsync(Object, int)}, and while it
 *       answers the request is suspended in servlet async mode: no container thread waits on the
 *       network. When the answer comes the next steps run (the per-user limit on the store's
 *       thread; the body, quota, queue and handler after an async dispatch, on a container
 *       thread), with the same answers as for a local limiter. A store that fails, or completes
 *       its stage exceptionally (its own timeout), follows the rule's fail-open or fail-closed
 *       choice. A client that leaves while its request waits on the store is counted in
 *       {@link FilterStats#clientAborts()} and nothing more is charged for it (the container must
 *       notice: Jetty does for requests without a body, Tomcat only when it reports
 *       {@code AsyncListener.onError}). A store that has not answered within
 *       {@link Builder#remoteStoreTimeout(Duration)} gets the request answered 503
 *       {@code unavailable} and counted as a store failure. Local limiters (the in-memory store)
 *       keep the synchronous path and cost nothing more.
 *   <li>{@link FilterListener}s hear every request's {@link FilterOutcome}, for metrics;
 *       {@link #ruleNames()} and {@link #stats(String)} give the per-rule figures.
 * </ul>
 *
 * <p>Error bodies are JSON, valid whatever a message contains, carry
 * {@code Cache-Control: no-store}, and never contain an exception's text. Client mistakes and
 * refusals are never logged at ERROR.
 *
 * <p>Anonymous requests (no user from the {@link UserKeyResolver}) are limited per IP only; put
 * authentication before this filter so quotas and per-user limits apply. Several filters may run
 * in one chain: a request one of them suspended is admitted by the next on its async dispatch.
 *
 * <pre>{@code
 * SluiceFilter filter = SluiceFilter.builder()
 *     .rule(chatRule).rule(researchRule)
 *     .clientAddressResolver(ClientAddressResolver.builder().trustedProxies("10.0.0.0/8").build())
 *     .userKeyResolver(UserKeyResolver.requestAttribute("user"))
 *     .quotaGate(quotaRepository)
 *     .build();
 * FilterHolder holder = new FilterHolder(filter);
 * holder.setAsyncSupported(true);
 * context.addFilter(holder, "/*", EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC));
 * }</pre>
 *
 * <p>Thread-safe: one instance serves all requests.
 */
public final class SluiceFilter implements Filter {
  /** The request attribute holding the request id the quota was consumed with. */
  public static final String REQUEST_ID_ATTRIBUTE = "dev.sluice.requestId";
  /** The request attribute holding the {@link QuotaDecision} of an admitted request. */
  public static final String QUOTA_ATTRIBUTE = "dev.sluice.quota";

  static final Logger LOG = LoggerFactory.getLogger(SluiceFilter.class);
  private static final AtomicInteger INSTANCES = new AtomicInteger();

  private final String name;
  private final List<RouteRule> rules;
  private final Map<String, RuleCounters> counters;
  final ClientAddressResolver addresses;
  final UserKeyResolver users;
  final QuotaGate quotaGate;
  final RequestQueue<String> queue;
  final DisconnectWatcher watcher;
  final int maxBodySize;
  final long bodyTimeoutNanos;
  final int minBodyRate;
  final boolean headersOnAdmitted;
  final NanoClock clock;
  final TaskScheduler timer;
  /** Marks a request this filter suspended and dispatched again; holds its {@link Admission}. */
  final String admissionAttribute;
  /** Marks a request this filter has taken in, so a later async dispatch passes through. */
  private final String seenAttribute;
  private final ThrottledLog storeFailureLog;
  private final ThrottledLog shadowLog;
  private final long logIntervalNanos;
  private final AtomicLong lastStoreFailure = new AtomicLong(Long.MIN_VALUE);
  final long remoteStoreTimeoutMillis;
  private final List<String> ruleNames;
  /** Copy-on-write, so a request reads it without a lock; empty means no work at all. */
  volatile FilterListener[] listeners;
  /** Listeners that have thrown once: their later failures are logged at DEBUG. */
  private final Set<FilterListener> failedListeners = ConcurrentHashMap.newKeySet();

  private SluiceFilter(Builder b) {
    this.name = b.name;
    this.rules = List.copyOf(b.rules);
    Map<String, RuleCounters> c = new LinkedHashMap<>();
    for (RouteRule r : rules) {
      c.put(r.name(), new RuleCounters());
    }
    this.counters = c;
    this.addresses = b.addresses;
    this.users = b.users;
    this.quotaGate = b.quotaGate;
    this.queue = b.queue;
    this.watcher = b.watcher;
    this.maxBodySize = b.maxBodySize;
    this.bodyTimeoutNanos = b.bodyTimeout.toNanos();
    this.minBodyRate = b.minBodyRate;
    this.headersOnAdmitted = b.headersOnAdmitted;
    this.clock = b.clock;
    this.timer = b.timer;
    int id = INSTANCES.incrementAndGet();
    this.admissionAttribute = "dev.sluice.admission#" + id;
    this.seenAttribute = "dev.sluice.seen#" + id;
    this.logIntervalNanos = b.logInterval.toNanos();
    this.storeFailureLog = new ThrottledLog(LOG, b.clock, logIntervalNanos);
    this.shadowLog = new ThrottledLog(LOG, b.clock, logIntervalNanos);
    this.remoteStoreTimeoutMillis = Math.max(1, b.remoteStoreTimeout.toMillis());
    this.ruleNames = List.copyOf(c.keySet());
    this.listeners = b.listeners.toArray(new FilterListener[0]);
  }

  /**
   * Starts a builder.
   *
   * @return a builder with no rules, the socket-only address resolver, the principal user
   *     resolver, RateLimit headers on admitted responses, a 1 MiB body limit, a 10 s body
   *     timeout at 8 KiB/s, and a one-minute log interval
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
    DispatcherType type = request.getDispatcherType();
    if (type == DispatcherType.ASYNC
        && request.getAttribute(admissionAttribute) instanceof Admission admission) {
      request.removeAttribute(admissionAttribute);
      admission.resume(request, response, chain);
      return;
    }
    if ((type != DispatcherType.REQUEST && type != DispatcherType.ASYNC)
        || (type == DispatcherType.ASYNC && request.getAttribute(seenAttribute) != null)) {
      chain.doFilter(req, res);
      return;
    }
    RouteRule rule = match(request);
    if (rule == null) {
      chain.doFilter(req, res);
      return;
    }
    // An ASYNC dispatch this filter has not seen is a request an earlier filter suspended (to
    // read its body, say): it is admitted here as if new.
    request.setAttribute(seenAttribute, Boolean.TRUE);
    new Admission(this, rule, counters.get(rule.name()), request, response).start(chain);
  }

  void refund(RouteRule rule, RuleCounters count, String user, String requestId) {
    try {
      quotaGate.refund(user, rule.quota(), requestId);
    } catch (RuntimeException e) {
      noteStoreFailure(count, "quota refund failed for rule '" + rule.name() + "'", e);
    }
  }

  void shadowRefusal(RouteRule rule, RuleCounters count, String what) {
    count.shadowRefusals.increment();
    shadowLog.warn("shadow rule '" + rule.name() + "' would have refused " + what, null);
    outcome(rule, FilterOutcome.SHADOW_REFUSAL);
  }

  /**
   * Tells the listeners, in order; a listener that throws is logged (WARN once, then DEBUG) and
   * the next one still hears. Callers check {@code listeners.length} first when they can.
   */
  void outcome(RouteRule rule, FilterOutcome outcome) {
    FilterListener[] ls = listeners;
    for (FilterListener l : ls) {
      try {
        l.onOutcome(rule.name(), outcome);
      } catch (RuntimeException | Error e) {
        if (e instanceof VirtualMachineError) {
          throw e;
        }
        if (failedListeners.add(l)) {
          LOG.warn("filter listener {} threw on {} for rule '{}'; its later failures are logged"
              + " at DEBUG", l, outcome, rule.name(), e);
        } else {
          LOG.debug("filter listener {} threw on {} for rule '{}'", l, outcome, rule.name(), e);
        }
      }
    }
  }

  /**
   * Adds a listener after those already registered; it hears requests that end from now on.
   * Registering is rare and copies the list; requests read it without a lock.
   *
   * @param listener the listener
   * @throws NullPointerException if {@code listener} is null
   */
  public void addListener(FilterListener listener) {
    Objects.requireNonNull(listener, "listener");
    synchronized (this) {
      FilterListener[] old = listeners;
      FilterListener[] grown = java.util.Arrays.copyOf(old, old.length + 1);
      grown[old.length] = listener;
      listeners = grown;
    }
  }

  /**
   * A store failed: count, log (throttled), and answer 503 unless the failure fails open.
   *
   * @param open whether the request goes on (the caller's reading of the rule and the failure)
   * @return true when the request goes on (fail-open or shadow), false when it was answered
   */
  boolean storeFailed(RouteRule rule, RuleCounters count, String what, RuntimeException e,
      boolean open, HttpServletResponse response) throws IOException {
    noteStoreFailure(count, what + " failed; rule '" + rule.name() + "' fails "
        + (open ? "open" : "closed"), e);
    if (open) {
      if (listeners.length != 0) {
        outcome(rule, FilterOutcome.STORE_FAILURE_OPEN);
      }
      return true;
    }
    Refusals.unavailable(response);
    return false;
  }

  /** Counts a store failure, marks the filter unhealthy for a log interval, logs (throttled). */
  void noteStoreFailure(RuleCounters count, String message, RuntimeException e) {
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
   * The names of the rules, in matching order: the keys {@link #stats(String)} takes, and the
   * {@code rule} a {@link FilterListener} hears.
   *
   * @return an immutable list of the rule names
   */
  public List<String> ruleNames() {
    return ruleNames;
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
      // Client aborts and slow or oversized bodies are the clients' doing: shown, never scored.
      figures.put("clientAborts", t.clientAborts());
      figures.put("bodyTimeouts", t.bodyTimeouts());
      figures.put("bodyTooLarge", t.bodyTooLarge());
      figures.put("readingBodies", t.readingBodies());
      figures.put("handlerFailures", t.failed());
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
    private int maxBodySize = 1 << 20;
    private Duration bodyTimeout = Duration.ofSeconds(10);
    private int minBodyRate = 8 * 1024;
    private TaskScheduler timer = TaskScheduler.timer();
    private boolean headersOnAdmitted = true;
    private Duration logInterval = Duration.ofMinutes(1);
    private NanoClock clock = NanoClock.system();
    private Duration remoteStoreTimeout = Duration.ofSeconds(10);
    private final List<FilterListener> listeners = new ArrayList<>();

    private Builder() {}

    /**
     * Adds a listener that hears how every matched request ends; listeners are called in the
     * order added. More can be added later with {@link SluiceFilter#addListener}.
     *
     * @param listener the listener
     * @return this builder
     * @throws NullPointerException if {@code listener} is null
     */
    public Builder listener(FilterListener listener) {
      listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    /**
     * Sets the longest a request stays suspended waiting for a remote rate-limit store (one whose
     * limiter is not {@linkplain RateLimiter#isLocal() local}); default 10 s. It is the servlet
     * async timeout of that wait: a store that has not answered by then gets the request answered
     * 503 {@code unavailable} and counted as a store failure. It is a safety net: give the store
     * its own, much shorter timeout (the PostgreSQL and Redis stores default to 100 ms), whose
     * expiry follows the rule's fail-open or fail-closed choice.
     *
     * @param timeout a positive duration of at least one millisecond
     * @return this builder
     * @throws IllegalArgumentException if {@code timeout} is null or below one millisecond
     */
    public Builder remoteStoreTimeout(Duration timeout) {
      if (timeout == null || timeout.toMillis() < 1) {
        throw new IllegalArgumentException(
            "remoteStoreTimeout must be >= 1 ms but was " + timeout);
      }
      this.remoteStoreTimeout = timeout;
      return this;
    }

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
     * Sets the largest request body a rule accepts unless the rule sets its own
     * ({@link RouteRule.Builder#maxBodySize(int)}); default 1 MiB. Bodies of matched routes are
     * read into memory before admission, so this also bounds the memory a request holds. Larger
     * bodies, declared or chunked, are answered 413.
     *
     * @param bytes the bound, &gt;= 0
     * @return this builder
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    public Builder maxBodySize(int bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("maxBodySize must be >= 0 but was " + bytes);
      }
      this.maxBodySize = bytes;
      return this;
    }

    /**
     * Sets the base time a request body may take to arrive (default 10 s). A body's deadline is
     * this plus its size at {@link #minBodyRate(int)}; a client slower than that gets 408
     * {@code body_timeout} and never takes a permit or a quota unit.
     *
     * @param timeout a positive duration
     * @return this builder
     * @throws IllegalArgumentException if {@code timeout} is null, zero or negative
     */
    public Builder bodyTimeout(Duration timeout) {
      if (timeout == null || timeout.isZero() || timeout.isNegative()) {
        throw new IllegalArgumentException("bodyTimeout must be > 0 but was " + timeout);
      }
      this.bodyTimeout = timeout;
      return this;
    }

    /**
     * Sets the slowest data rate a body is given extra time for, in bytes per second (default
     * 8192): a 1 MiB body may take {@code bodyTimeout} + 128 s. 0 gives no extra time.
     *
     * @param bytesPerSecond the rate, &gt;= 0
     * @return this builder
     * @throws IllegalArgumentException if {@code bytesPerSecond} is negative
     */
    public Builder minBodyRate(int bytesPerSecond) {
      if (bytesPerSecond < 0) {
        throw new IllegalArgumentException("minBodyRate must be >= 0 but was " + bytesPerSecond);
      }
      this.minBodyRate = bytesPerSecond;
      return this;
    }

    /**
     * Sets where body deadlines are scheduled (default {@link TaskScheduler#timer()}, one shared
     * daemon thread). Tests pass a scheduler with virtual time, together with {@link #clock}.
     *
     * @param timer the scheduler
     * @return this builder
     * @throws NullPointerException if {@code timer} is null
     */
    public Builder timer(TaskScheduler timer) {
      this.timer = Objects.requireNonNull(timer, "timer");
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
     * Sets the clock used for body deadlines and log throttling.
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
