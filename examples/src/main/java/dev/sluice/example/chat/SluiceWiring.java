package dev.sluice.example.chat;

import dev.sluice.CircuitBreaker;
import dev.sluice.ErrorTracker;
import dev.sluice.HealthContributors;
import dev.sluice.HealthMonitor;
import dev.sluice.LatencyProbe;
import dev.sluice.NanoClock;
import dev.sluice.OutboundGuard;
import dev.sluice.RateLimitCounter;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.RetryPolicy;
import dev.sluice.quota.AtomicQuotaRepository;
import dev.sluice.quota.QuotaSchema;
import dev.sluice.servlet.ClientAddressResolver;
import dev.sluice.servlet.RouteRule;
import dev.sluice.servlet.SluiceFilter;
import dev.sluice.servlet.UserKeyResolver;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import javax.sql.DataSource;

/**
 * Every Sluice layer of the chat app, with the original deployment's numbers, in one place.
 * Outermost first, a request to {@code POST /api/chat} meets:
 *
 * <ol>
 *   <li><b>layer 1, rate limit per client IP</b> ({@link #ipFilter}, before authentication, so
 *       requests without a valid token are limited too): chat 5/min, research 10/min, export
 *       3/min, new sessions 10/min; 429 with {@code Retry-After} and {@code RateLimit} headers;
 *       in memory per instance, or shared by every instance in PostgreSQL or Redis
 *       ({@link LimitStores}); failing open when a shared store cannot answer;
 *   <li><b>authentication</b> ({@link AuthFilter}): the bearer token names the user;
 *   <li><b>layer 3, quota</b>: the free plan's 3 chats a day (pro: configurable) in PostgreSQL
 *       through {@link AtomicQuotaRepository}, consumed with the request id and refunded when the
 *       answer fails (5xx); 429 {@code quota_exceeded} when used up;
 *   <li><b>layer 2, queue</b>: 20 requests at once, 2 per user, chat before research before
 *       export, at most 100 waiting, 60 s longest wait; 503 with {@code Retry-After} beyond that;
 *   <li><b>layer 4, outbound guard</b> around the literature service: 3 calls/s (callers wait up
 *       to 10 s for their turn), 3 attempts with exponential backoff (200 ms doubling to 2 s, with
 *       jitter), 2 s per attempt, a breaker that opens after 5 consecutive failures and lets a
 *       probe through after 10 s;
 *   <li><b>layer 5, health</b>: a {@link HealthMonitor} over the queue, the error rates, the
 *       literature guard, the rate limits and their store, and a database ping; served at {@code
 *       /api/system-health} and drawn by {@code /dashboard}.
 * </ol>
 *
 * <p>Thread-safe once built.
 */
final class SluiceWiring {
  static final Duration MINUTE = Duration.ofMinutes(1);

  // Layer 1: per-IP limits (the original's numbers) on the chosen store, counted for the health
  // report. The counters are per instance; the limits are shared when the store is.
  final RateLimitCounter sessionCounter = RateLimitCounter.create("session");
  final RateLimitCounter chatCounter = RateLimitCounter.create("chat");
  final RateLimitCounter researchCounter = RateLimitCounter.create("research");
  final RateLimitCounter exportCounter = RateLimitCounter.create("export");
  final RateLimiter<String> sessionPerIp;
  final RateLimiter<String> chatPerIp;
  final RateLimiter<String> researchPerIp;
  final RateLimiter<String> exportPerIp;

  // Layer 2: admission queue.
  static final int MAX_CONCURRENT = 20;
  static final int MAX_CONCURRENT_PER_USER = 2;
  static final int MAX_QUEUED = 100;
  final RequestQueue<String> queue;

  // Layer 3: quota (free plan: chat 3/day, seeded by the shipped SQL; pro: configured here).
  final AtomicQuotaRepository quotas;

  // Layer 4: outbound protection for the literature service.
  final CircuitBreaker literatureBreaker;
  final OutboundGuard literatureGuard;

  // Layer 5: error rates (API responses and literature calls) and the health report.
  final ErrorTracker errors = ErrorTracker.builder().window(MINUTE).build();
  // Client aborts and admitted work: figures only, never a lower score.
  final ApiTraffic traffic = new ApiTraffic();
  final HealthMonitor health;

  /** Per-IP limits, before authentication. */
  final SluiceFilter ipFilter;
  /** Quota and queue, after authentication. */
  final SluiceFilter filter;

  /**
   * Wires the layers.
   *
   * @param db the pooled database; the quota schema is migrated on it
   * @param limitStores where the per-IP limits keep their state (memory, PostgreSQL, Redis)
   * @param proChatsPerDay the pro plan's daily chats
   * @param breakerClock the clock of the literature breaker (tests move it past the open time)
   * @param maxQueued requests that may wait in the queue ({@link #MAX_QUEUED}; tests that need
   *     the queue to shed at once use fewer)
   * @throws SQLException if the schema or the plans cannot be installed
   */
  SluiceWiring(DataSource db, LimitStores limitStores, int proChatsPerDay,
      NanoClock breakerClock, int maxQueued) throws SQLException {
    this.queue = RequestQueue.builder()
        .name("chat-service")
        .maxConcurrent(MAX_CONCURRENT)
        .maxConcurrentPerKey(MAX_CONCURRENT_PER_USER)
        .maxQueued(maxQueued)
        .priorities("chat", "research", "export")
        .timeout(Duration.ofSeconds(60))
        .build();
    // The schema holds the quota tables and the PostgreSQL rate-limit store's table.
    QuotaSchema.migrate(db);
    installProPlan(db, proChatsPerDay);
    this.quotas = AtomicQuotaRepository.create(db);

    this.sessionPerIp = sessionCounter.wrap(limitStores.build(
        RateLimiter.builder().name("session").limit(10, MINUTE), "session"));
    this.chatPerIp = chatCounter.wrap(limitStores.build(
        RateLimiter.builder().name("chat").limit(5, MINUTE), "chat"));
    this.researchPerIp = researchCounter.wrap(limitStores.build(
        RateLimiter.builder().name("research").limit(10, MINUTE), "research"));
    this.exportPerIp = exportCounter.wrap(limitStores.build(
        RateLimiter.builder().name("export").limit(3, MINUTE), "export"));

    this.literatureBreaker = CircuitBreaker.builder()
        .name("literature")
        .failureThreshold(5)
        .openDuration(Duration.ofSeconds(10))
        .clock(breakerClock)
        .build();
    this.literatureGuard = OutboundGuard.builder()
        .name("literature")
        .pacing(3, Duration.ofSeconds(1))
        .maxPacingWait(Duration.ofSeconds(10))
        .retry(RetryPolicy.builder()
            .maxAttempts(3)
            .backoff(Duration.ofMillis(200), Duration.ofSeconds(2))
            .retryOn(IOException.class)
            .build())
        .timeout(Duration.ofSeconds(2))
        .circuitBreaker(literatureBreaker)
        .build();

    // Rules are keyed by path and method as ApiRoutes answers them, so a wrong method matches no
    // rule: ApiRoutes refuses it with 405 before either filter runs.
    // Two filters around authentication: per-IP limits first, so requests with no or a forged
    // token are limited too (each costs a token lookup); quota and queue after it, keyed by user.
    // The per-IP rules fail open: when a shared store (Redis, PostgreSQL) cannot answer, requests
    // go on unlimited per IP, still behind authentication, the quota (which fails closed) and the
    // queue, rather than the whole app answering 503 because its limit store is down. The health
    // report shows the failing store.
    this.ipFilter = SluiceFilter.builder()
        .name("per-ip")
        .rule(RouteRule.builder("session").path(ApiRoutes.Route.SESSION.path).methods("POST")
            .perIp(sessionPerIp).failOpen(true).build())
        .rule(RouteRule.builder("chat").path(ApiRoutes.Route.CHAT.path).methods("POST")
            .perIp(chatPerIp).failOpen(true).build())
        .rule(RouteRule.builder("research").path(ApiRoutes.Route.RESEARCH.path).methods("POST")
            .perIp(researchPerIp).failOpen(true).build())
        .rule(RouteRule.builder("export").path(ApiRoutes.Route.EXPORT.path).methods("POST")
            .perIp(exportPerIp).failOpen(true).build())
        // Clients connect directly; behind a proxy, name it: .trustedProxies("10.0.0.0/8").
        .clientAddressResolver(ClientAddressResolver.builder().build())
        .build();
    this.filter = SluiceFilter.builder()
        .name("per-user")
        .rule(RouteRule.builder("chat").path(ApiRoutes.Route.CHAT.path).methods("POST")
            .quota("chat").queuePriority("chat").build())
        .rule(RouteRule.builder("research").path(ApiRoutes.Route.RESEARCH.path).methods("POST")
            .queuePriority("research").build())
        .rule(RouteRule.builder("export").path(ApiRoutes.Route.EXPORT.path).methods("POST")
            .queuePriority("export").build())
        .userKeyResolver(UserKeyResolver.requestAttribute(AuthFilter.USER))
        .queue(queue)
        .quotaGate(quotas)
        .build();

    this.health = HealthMonitor.builder()
        .add(HealthContributors.requestQueue(queue))
        .add(HealthContributors.errors(errors))
        .add(HealthContributors.outboundGuard(literatureGuard))
        // Refusals by the limits are the limits working: they can make the app look degraded,
        // never unhealthy.
        .add(HealthContributors.rateLimiter(chatCounter), 0.5)
        .add(HealthContributors.rateLimiter(researchCounter), 0.5)
        .add(HealthContributors.rateLimiter(exportCounter), 0.5)
        .add(HealthContributors.rateLimiter(sessionCounter), 0.5)
        .add(LatencyProbe.of("db", () -> ping(db)))
        // A failing limit store lets requests through unlimited (the per-IP rules fail open):
        // degraded, not down.
        .add(limitStores.healthContributor(), 0.5)
        .add(ipFilter.healthContributor(), 0.5)
        .add(filter.healthContributor())
        .add(traffic.healthContributor())
        .build();
  }

  /** The pro plan: the same quota name, a larger daily allowance. Re-applied at every start. */
  private static void installProPlan(DataSource db, int chatsPerDay) throws SQLException {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        PreparedStatement ps = c.prepareStatement(
            "INSERT INTO sluice.plan_quota (plan, quota, allowance, window_unit, time_zone)"
                + " VALUES ('pro', 'chat', ?, 'day', 'UTC') ON CONFLICT (plan, quota)"
                + " DO UPDATE SET allowance = excluded.allowance")) {
      s.execute("INSERT INTO sluice.plan (plan, description) VALUES ('pro', 'Paying users')"
          + " ON CONFLICT (plan) DO NOTHING");
      ps.setInt(1, chatsPerDay);
      ps.executeUpdate();
    }
  }

  private static Object ping(DataSource db) throws SQLException {
    try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
      return s.execute("SELECT 1");
    }
  }
}
