package dev.sluice;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Ready-made {@link HealthContributor}s for Sluice's primitives, and the scoring rule they share.
 * Each component's score follows {@link #score(double, double)} against its target; its
 * recommendations start once a figure reaches 80 % of its target.
 *
 * <p>The contributors are thread-safe.
 */
public final class HealthContributors {
  /** Share of a target at which a figure earns a recommendation. */
  static final double WARN_AT = 0.8;
  /** Default error-rate target: below 5 %, as in the original system. */
  public static final double DEFAULT_MAX_ERROR_RATE = 0.05;
  /** Default minimum calls in the window before an error rate counts. */
  public static final long DEFAULT_MIN_CALLS = 10;
  /** Default target for the share of distinct clients a rate limiter refuses. */
  public static final double DEFAULT_MAX_REJECTED_SHARE = 0.10;
  /** Default minimum distinct clients in a rate limiter's window before its refusals count. */
  public static final long DEFAULT_MIN_CLIENTS = 20;
  /** Score of a half-open breaker: degraded. */
  public static final int HALF_OPEN_SCORE = 60;
  /** Score of an open breaker: unhealthy. */
  public static final int OPEN_SCORE = 25;

  private HealthContributors() {}

  /**
   * Scores a figure against its target. With {@code x = value / target}:
   * <ul>
   *   <li>{@code x < 1}: {@code 100 - 15x}, so anything below the target is healthy (85–100);
   *   <li>{@code x >= 1}: {@code 84 - 34(x - 1)}, so at the target the component is degraded
   *       (84), at twice the target 50, beyond it unhealthy, and 0 from about 3.5 times;
   * </ul>
   * rounded down and clamped to [0, 100].
   *
   * @param value the figure, &gt;= 0 (a negative value scores as 0)
   * @param target the figure's target, &gt; 0
   * @return the score, 0–100
   * @throws IllegalArgumentException if {@code target} is not positive
   */
  public static int score(double value, double target) {
    if (!(target > 0)) {
      throw new IllegalArgumentException("target must be > 0 but was " + target);
    }
    double x = Math.max(0, value) / target;
    double s = x < 1 ? 100 - 15 * x : 84 - 34 * (x - 1);
    return (int) Math.max(0, Math.min(100, Math.floor(s + 1e-9)));
  }

  /**
   * Error rates of every component an {@link ErrorTracker} knows, against 5 %, counting only
   * components with at least 10 calls in the window.
   *
   * @param tracker the tracker
   * @return a contributor named {@code "errors"}
   * @throws NullPointerException if {@code tracker} is null
   */
  public static HealthContributor errors(ErrorTracker tracker) {
    return errors(tracker, DEFAULT_MAX_ERROR_RATE, DEFAULT_MIN_CALLS);
  }

  /**
   * Error rates of every component an {@link ErrorTracker} knows. The score is the worst
   * component's; components with fewer than {@code minCalls} calls in the window do not count.
   *
   * @param tracker the tracker
   * @param maxErrorRate the target error rate, in (0, 1]
   * @param minCalls calls a component needs in the window before its rate counts, &gt;= 1
   * @return a contributor named {@code "errors"}
   * @throws NullPointerException if {@code tracker} is null
   * @throws IllegalArgumentException if an argument is out of range
   */
  public static HealthContributor errors(ErrorTracker tracker, double maxErrorRate,
      long minCalls) {
    Objects.requireNonNull(tracker, "tracker");
    if (!(maxErrorRate > 0 && maxErrorRate <= 1)) {
      throw new IllegalArgumentException("maxErrorRate must be in (0, 1] but was " + maxErrorRate);
    }
    if (minCalls < 1) {
      throw new IllegalArgumentException("minCalls must be >= 1 but was " + minCalls);
    }
    return () -> {
      Map<String, Object> figures = new LinkedHashMap<>();
      List<String> advice = new ArrayList<>();
      int score = 100;
      for (ErrorStats s : tracker.snapshot().values()) {
        figures.put(s.component() + ".calls", s.calls());
        figures.put(s.component() + ".errorRatePercent", percent(s.errorRate()));
        if (s.calls() < minCalls) {
          continue;
        }
        score = Math.min(score, score(s.errorRate(), maxErrorRate));
        if (s.errorRate() >= WARN_AT * maxErrorRate) {
          advice.add(String.format(Locale.ROOT,
              "error rate of '%s' is %.1f %% over the last %d s (target < %.1f %%): check that "
                  + "component's logs and the services it depends on",
              s.component(), percent(s.errorRate()), tracker.window().toSeconds(),
              percent(maxErrorRate)));
        }
      }
      return new ComponentHealth("errors", score, figures, advice);
    };
  }

  /**
   * A circuit breaker's state: closed scores 100, half-open {@value #HALF_OPEN_SCORE}, open
   * {@value #OPEN_SCORE}.
   *
   * @param breaker the breaker
   * @return a contributor named {@code "breaker:<name>"}
   * @throws NullPointerException if {@code breaker} is null
   */
  public static HealthContributor circuitBreaker(CircuitBreaker breaker) {
    Objects.requireNonNull(breaker, "breaker");
    return () -> {
      Map<String, Object> figures = new LinkedHashMap<>();
      List<String> advice = new ArrayList<>();
      int score = breakerFigures(breaker, figures, advice);
      return new ComponentHealth("breaker:" + breaker.name(), score, figures, advice);
    };
  }

  private static int breakerFigures(CircuitBreaker breaker, Map<String, Object> figures,
      List<String> advice) {
    CircuitBreaker.State state = breaker.state();
    figures.put("breakerState", state.name());
    figures.put("consecutiveFailures", breaker.consecutiveFailures());
    figures.put("failureRatePercent", percent(breaker.failureRate()));
    switch (state) {
      case OPEN:
        long seconds = (breaker.untilProbe().toMillis() + 999) / 1000;
        figures.put("untilProbeMs", breaker.untilProbe().toMillis());
        advice.add(String.format(Locale.ROOT,
            "circuit '%s' is open: calls to it fail fast; the next probe is in %d s. Check that "
                + "service; if it is back, reset the breaker",
            breaker.name(), seconds));
        return OPEN_SCORE;
      case HALF_OPEN:
        advice.add("circuit '" + breaker.name()
            + "' is half-open: probe calls are testing whether the service has recovered");
        return HALF_OPEN_SCORE;
      default:
        return 100;
    }
  }

  /**
   * An outbound guard: its breaker (as {@link #circuitBreaker(CircuitBreaker)}), its pacing
   * backlog against the max wait, and its retry budget (an empty budget scores
   * {@value #HALF_OPEN_SCORE}). The score is the worst of these.
   *
   * @param guard the guard
   * @return a contributor named {@code "outbound:<name>"}
   * @throws NullPointerException if {@code guard} is null
   */
  public static HealthContributor outboundGuard(OutboundGuard guard) {
    Objects.requireNonNull(guard, "guard");
    return () -> {
      Map<String, Object> figures = new LinkedHashMap<>();
      List<String> advice = new ArrayList<>();
      int score = 100;
      if (guard.circuitBreaker().isPresent()) {
        score = breakerFigures(guard.circuitBreaker().get(), figures, advice);
      }
      long maxWait = guard.maxPacingWait().toMillis();
      if (!guard.maxPacingWait().isZero()) {
        long backlog = guard.pacingBacklog().toMillis();
        figures.put("pacingBacklogMs", backlog);
        figures.put("maxPacingWaitMs", maxWait);
        score = Math.min(score, score(backlog, Math.max(1, maxWait)));
        if (backlog >= WARN_AT * maxWait) {
          advice.add(String.format(Locale.ROOT,
              "callers wait %.1f s of at most %.1f s for a turn at '%s': send it fewer calls "
                  + "(cache results), or ask its operators for a higher rate",
              backlog / 1000.0, maxWait / 1000.0, guard.name()));
        }
      }
      double tokens = guard.retryBudgetTokens();
      if (!Double.isInfinite(tokens)) {
        figures.put("retryBudgetTokens", Math.floor(tokens * 10) / 10);
        figures.put("retriesDeniedByBudget", guard.retriesDeniedByBudget());
        if (tokens < 1) {
          score = Math.min(score, HALF_OPEN_SCORE);
          advice.add("retry budget of '" + guard.name() + "' is empty: it keeps failing and "
              + "retries are suppressed to spare it; check that service");
        }
      }
      return new ComponentHealth("outbound:" + guard.name(), score, figures, advice);
    };
  }

  /**
   * A rate limiter's refusals over a {@link RateLimitCounter}'s window, scored by the share of
   * distinct clients refused against {@value #DEFAULT_MAX_REJECTED_SHARE}, from
   * {@value #DEFAULT_MIN_CLIENTS} distinct clients; see
   * {@link #rateLimiter(RateLimitCounter, double, long)}.
   *
   * @param counter the counter fed by the limiter
   * @return a contributor named {@code "ratelimit:<name>"}
   * @throws NullPointerException if {@code counter} is null
   */
  public static HealthContributor rateLimiter(RateLimitCounter counter) {
    return rateLimiter(counter, DEFAULT_MAX_REJECTED_SHARE, DEFAULT_MIN_CLIENTS);
  }

  /**
   * A rate limiter's refusals over a {@link RateLimitCounter}'s window, from
   * {@value #DEFAULT_MIN_CLIENTS} distinct clients; see
   * {@link #rateLimiter(RateLimitCounter, double, long)}.
   *
   * @param counter the counter fed by the limiter
   * @param maxRejectedShare the target share of distinct clients refused, in (0, 1]
   * @return a contributor named {@code "ratelimit:<name>"}
   * @throws NullPointerException if {@code counter} is null
   * @throws IllegalArgumentException if {@code maxRejectedShare} is out of range
   */
  public static HealthContributor rateLimiter(RateLimitCounter counter, double maxRejectedShare) {
    return rateLimiter(counter, maxRejectedShare, DEFAULT_MIN_CLIENTS);
  }

  /**
   * A rate limiter's refusals over a {@link RateLimitCounter}'s window, scored by how many
   * <em>clients</em> it refuses rather than how many requests. One client hammering its limit is
   * refused again and again, and that is the limiter doing its job for that client's sake; the
   * service is in trouble when many clients are refused (the limit is too low for real traffic,
   * or an attack comes from many addresses). With {@code clients} the distinct keys that made a
   * request in the window and {@code rejectedClients} those refused at least once:
   * <ul>
   *   <li>{@code clients < minClients}: score 100, no recommendation — among a handful of clients
   *       each one moves the share by many points, so one or two would decide the score;
   *   <li>otherwise {@link #score(double, double) score(rejectedClients / clients,
   *       maxRejectedShare)}, with a recommendation from 80 % of the target.
   * </ul>
   * One client making 300 requests of which 294 are refused thus scores 100 (one client, below
   * {@code minClients}; and among 100 clients it would be 1 %, healthy at 98). With the defaults,
   * 100 clients of which 10 are refused score 84 (degraded), 20 of them 50.
   *
   * <p>Figures: {@code requests}, {@code allowed}, {@code rejected}, {@code rejectedPercent}
   * (of requests), {@code clients}, {@code rejectedClients}, {@code rejectedClientsPercent}.
   * Refusals are the limiter doing its job, so consider registering it with a weight below 1.
   *
   * @param counter the counter fed by the limiter
   * @param maxRejectedShare the target share of distinct clients refused, in (0, 1]
   * @param minClients distinct clients the window needs before refusals can lower the score,
   *     &gt;= 1
   * @return a contributor named {@code "ratelimit:<name>"}
   * @throws NullPointerException if {@code counter} is null
   * @throws IllegalArgumentException if {@code maxRejectedShare} or {@code minClients} is out of
   *     range
   */
  public static HealthContributor rateLimiter(RateLimitCounter counter, double maxRejectedShare,
      long minClients) {
    Objects.requireNonNull(counter, "counter");
    if (!(maxRejectedShare > 0 && maxRejectedShare <= 1)) {
      throw new IllegalArgumentException(
          "maxRejectedShare must be in (0, 1] but was " + maxRejectedShare);
    }
    if (minClients < 1) {
      throw new IllegalArgumentException("minClients must be >= 1 but was " + minClients);
    }
    return () -> {
      RateLimitCounter.Snapshot s = counter.snapshot();
      double clientShare = s.rejectedClientShare();
      Map<String, Object> figures = new LinkedHashMap<>();
      figures.put("requests", s.requests());
      figures.put("allowed", s.requests() - s.rejected());
      figures.put("rejected", s.rejected());
      figures.put("rejectedPercent", percent(s.rejectedShare()));
      figures.put("clients", s.clients());
      figures.put("rejectedClients", s.rejectedClients());
      figures.put("rejectedClientsPercent", percent(clientShare));
      List<String> advice = new ArrayList<>();
      int score = 100;
      if (s.clients() >= minClients) {
        score = score(clientShare, maxRejectedShare);
        if (clientShare >= WARN_AT * maxRejectedShare) {
          advice.add(String.format(Locale.ROOT,
              "%d of %d clients (%.1f %%) of '%s' were rate-limited over the last %d s (target "
                  + "< %.1f %%): if the traffic is legitimate, raise the limit; if it is an "
                  + "attack from many addresses, block it upstream",
              s.rejectedClients(), s.clients(), percent(clientShare), counter.name(),
              counter.window().toSeconds(), percent(maxRejectedShare)));
        }
      }
      return new ComponentHealth("ratelimit:" + counter.name(), score, figures, advice);
    };
  }

  /**
   * A shared rate-limit store's health, from the {@link StoreStats} the store keeps; see
   * {@link #rateLimitStore(String, Supplier)}.
   *
   * @param store a store that keeps stats (a network store such as Redis or PostgreSQL)
   * @return a contributor named {@code "store:<stats name>"}
   * @throws NullPointerException if {@code store} is null
   * @throws IllegalArgumentException if the store keeps no stats (an in-process store, which
   *     cannot fail and needs no health check)
   */
  public static HealthContributor rateLimitStore(RateLimitStore<?> store) {
    Objects.requireNonNull(store, "store");
    StoreStats first = store.stats().orElseThrow(() -> new IllegalArgumentException(
        "store " + store + " keeps no stats (an in-process store cannot fail): nothing to check"));
    return rateLimitStore(first.name(), () -> store.stats().orElseThrow());
  }

  /**
   * A shared rate-limit store's health. A store that answers is healthy (100) however often it
   * failed before; one whose last one or two calls failed scores {@value #HALF_OPEN_SCORE}
   * (degraded: a blip, or the start of an outage), and one whose last three or more failed
   * {@value #OPEN_SCORE} (unhealthy: limits on fail-open rules are not enforced and fail-closed
   * rules refuse with 503 until it answers again). Figures: {@code calls}, {@code failures},
   * {@code consecutiveFailures}, {@code failing}.
   *
   * @param name the store's name, used for the component {@code "store:<name>"}
   * @param stats reads the store's current stats
   * @return the contributor
   * @throws NullPointerException if an argument is null
   */
  public static HealthContributor rateLimitStore(String name, Supplier<StoreStats> stats) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(stats, "stats");
    return () -> {
      StoreStats s = stats.get();
      Map<String, Object> figures = new LinkedHashMap<>();
      figures.put("calls", s.calls());
      figures.put("failures", s.failures());
      figures.put("consecutiveFailures", s.consecutiveFailures());
      figures.put("failing", s.failing());
      List<String> advice = new ArrayList<>();
      int score = 100;
      if (s.failing()) {
        score = s.consecutiveFailures() >= 3 ? OPEN_SCORE : HALF_OPEN_SCORE;
        advice.add("rate-limit store '" + name + "' failed its last " + s.consecutiveFailures()
            + " calls: check the server and the network between them, and the store's command "
            + "timeout; until it answers, fail-open rules admit without a limit and fail-closed "
            + "rules answer 503");
      }
      return new ComponentHealth("store:" + name, score, figures, advice);
    };
  }

  /**
   * A contributor for a {@link RequestQueue}, scored like
   * {@link #queue(String, LongSupplier, LongSupplier, LongSupplier, LongSupplier, LongSupplier)}.
   *
   * For a queue with an adaptive limit, {@code maxConcurrent} is the limit's current value and
   * the figures also carry {@code "adaptiveLimit": true}.
   *
   * @param queue the queue
   * @return the contributor, named {@code queue:<queue name>}
   * @throws NullPointerException if {@code queue} is null
   */
  public static HealthContributor requestQueue(RequestQueue<?> queue) {
    Objects.requireNonNull(queue, "queue");
    // One stats snapshot per check, so the figures agree with each other.
    AtomicReference<RequestQueue.Stats<?>> snapshot = new AtomicReference<>(queue.stats());
    HealthContributor figures = queue(queue.name(), () -> snapshot.get().queued(),
        queue::maxQueued, () -> snapshot.get().active(), () -> snapshot.get().limit(),
        () -> snapshot.get().rejected());
    boolean adaptive = queue.isAdaptive();
    return () -> {
      synchronized (snapshot) {
        snapshot.set(queue.stats());
        ComponentHealth health = figures.check();
        if (!adaptive) {
          return health;
        }
        Map<String, Object> more = new LinkedHashMap<>(health.figures());
        more.put("adaptiveLimit", true);
        return new ComponentHealth(health.name(), health.score(), more,
            health.recommendations());
      }
    };
  }

  /**
   * A request queue, read through suppliers so any queue implementation can be plugged in. The
   * score is {@link #score(double, double)} of {@code queued / maxQueued}, plus 1 when requests
   * were rejected since the previous report: a full queue is degraded (84), a full queue that
   * also rejects is at 50, rejections with a shorter queue in between.
   *
   * @param name the queue's name
   * @param queued requests waiting now
   * @param maxQueued the most requests that may wait
   * @param active requests running now
   * @param maxConcurrent the most requests that may run at once
   * @param rejected requests rejected since the queue started (a running total)
   * @return a contributor named {@code "queue:<name>"}
   * @throws NullPointerException if an argument is null
   */
  public static HealthContributor queue(String name, LongSupplier queued, LongSupplier maxQueued,
      LongSupplier active, LongSupplier maxConcurrent, LongSupplier rejected) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(queued, "queued");
    Objects.requireNonNull(maxQueued, "maxQueued");
    Objects.requireNonNull(active, "active");
    Objects.requireNonNull(maxConcurrent, "maxConcurrent");
    Objects.requireNonNull(rejected, "rejected");
    AtomicLong lastRejected = new AtomicLong(rejected.getAsLong());
    return () -> {
      long q = queued.getAsLong();
      long maxQ = maxQueued.getAsLong();
      long a = active.getAsLong();
      long maxC = maxConcurrent.getAsLong();
      long total = rejected.getAsLong();
      long recent = Math.max(0, total - lastRejected.getAndSet(total));
      Map<String, Object> figures = new LinkedHashMap<>();
      figures.put("queued", q);
      figures.put("maxQueued", maxQ);
      figures.put("active", a);
      figures.put("maxConcurrent", maxC);
      figures.put("rejectedSinceLastReport", recent);
      figures.put("rejectedTotal", total);
      double load = (maxQ > 0 ? q / (double) maxQ : 0) + (recent > 0 ? 1 : 0);
      List<String> advice = new ArrayList<>();
      if (maxQ > 0 && q >= WARN_AT * maxQ) {
        advice.add("queue depth " + q + " of " + maxQ + " at '" + name
            + "': raise maxConcurrent (now " + maxC + ") or add an instance");
      }
      if (recent > 0) {
        advice.add("queue '" + name + "' rejected " + recent
            + " requests since the last report: add capacity or shed load earlier");
      }
      return new ComponentHealth("queue:" + name, score(load, 1), figures, advice);
    };
  }

  static double percent(double share) {
    return Math.round(share * 1000) / 10.0;
  }
}
