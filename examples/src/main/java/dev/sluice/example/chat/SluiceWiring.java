package dev.sluice.example.chat;

import dev.sluice.QuotaGate;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.servlet.ClientAddressResolver;
import dev.sluice.servlet.RouteRule;
import dev.sluice.servlet.SluiceFilter;
import dev.sluice.servlet.UserKeyResolver;
import java.time.Duration;

/**
 * Every Sluice layer of the chat app, with the original deployment's numbers, in one place.
 * Outermost first, a request to {@code POST /api/chat} meets:
 *
 * <ol>
 *   <li><b>authentication</b> ({@link AuthFilter}, before Sluice): the bearer token names the user;
 *   <li><b>1 rate limit per client IP</b>: chat 5/min, research 10/min, export 3/min, new sessions
 *       10/min; 429 with {@code Retry-After};
 *   <li><b>3 quota</b>: the free plan's 3 chats a day in PostgreSQL ({@code AtomicQuotaRepository}),
 *       consumed with the request id and refunded if the answer fails (5xx); 429 when used up;
 *   <li><b>2 queue</b>: 20 requests at once, 2 per user, chat before research before export,
 *       at most 100 waiting, 60 s longest wait; 503 with {@code Retry-After} beyond that;
 *   <li><b>4 outbound guard</b> around the literature service: 3 calls/s (callers wait up to 10 s
 *       for their turn), 3 attempts with exponential backoff, 2 s per attempt, a breaker that opens
 *       after 5 failures and probes again after 10 s;
 *   <li><b>5 health</b>: the health endpoint and the dashboard read all of the above.
 * </ol>
 *
 * <p>Thread-safe once built.
 */
final class SluiceWiring {
  static final Duration MINUTE = Duration.ofMinutes(1);

  // Layer 1: per-IP limits (the original's express-rate-limit numbers).
  final RateLimiter<String> sessionPerIp =
      RateLimiter.builder().name("session").limit(10, MINUTE).build();
  final RateLimiter<String> chatPerIp =
      RateLimiter.builder().name("chat").limit(5, MINUTE).build();
  final RateLimiter<String> researchPerIp =
      RateLimiter.builder().name("research").limit(10, MINUTE).build();
  final RateLimiter<String> exportPerIp =
      RateLimiter.builder().name("export").limit(3, MINUTE).build();

  // Layer 2: admission queue.
  final RequestQueue<String> queue = RequestQueue.builder()
      .name("chat-service")
      .maxConcurrent(20)
      .maxConcurrentPerKey(2)
      .maxQueued(100)
      .priorities("chat", "research", "export")
      .timeout(Duration.ofSeconds(60))
      .build();

  // Layer 3: quota (free plan: chat 3/day, seeded by the shipped SQL).
  final QuotaGate quotas;

  // Layer 4: outbound protection for the literature service.
  final Outbound literatureGuard;

  final SluiceFilter filter;

  SluiceWiring(QuotaGate quotas, Outbound literatureGuard) {
    this.quotas = quotas;
    this.literatureGuard = literatureGuard;
    this.filter = SluiceFilter.builder()
        .rule(RouteRule.builder("session").path("/api/session").methods("POST")
            .perIp(sessionPerIp).build())
        .rule(RouteRule.builder("chat").path("/api/chat").methods("POST")
            .perIp(chatPerIp).quota("chat").queuePriority("chat").build())
        .rule(RouteRule.builder("research").path("/api/research").methods("POST")
            .perIp(researchPerIp).queuePriority("research").build())
        .rule(RouteRule.builder("export").path("/api/export").methods("POST", "GET")
            .perIp(exportPerIp).queuePriority("export").build())
        // Clients connect directly; behind a proxy, name it: .trustedProxies("10.0.0.0/8").
        .clientAddressResolver(ClientAddressResolver.builder().build())
        .userKeyResolver(UserKeyResolver.requestAttribute(AuthFilter.USER))
        .queue(queue)
        .quotaGate(quotas)
        .build();
  }
}
