package dev.sluice.example.chat;

import dev.sluice.micrometer.CircuitBreakerMetrics;
import dev.sluice.micrometer.HealthMetrics;
import dev.sluice.micrometer.OutboundGuardMetrics;
import dev.sluice.micrometer.QuotaMetrics;
import dev.sluice.micrometer.RateLimiterMetrics;
import dev.sluice.micrometer.RequestQueueMetrics;
import dev.sluice.micrometer.SluiceFilterMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * {@code GET /metrics}: every Sluice meter of the app in the Prometheus text format, through
 * {@code sluice-micrometer} and Micrometer's Prometheus registry.
 *
 * <p>Who may scrape: a request with {@code Authorization: Bearer <admin token>}, or one made
 * directly from a loopback address (a Prometheus agent on the same host). A loopback request that
 * carries {@code Forwarded} or {@code X-Forwarded-For} came through a local reverse proxy, so it
 * is treated as remote and needs the token. Anything else gets 401 JSON; the meters carry no
 * user, key or address, but queue sizes and refusal counts are still the operator's business.
 *
 * <p>Thread-safe.
 */
final class MetricsServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;

  private final transient PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final byte[] adminToken;

  MetricsServlet(SluiceWiring wiring, String adminToken) {
    this.adminToken = adminToken.getBytes(StandardCharsets.UTF_8);
    new RateLimiterMetrics(wiring.sessionPerIp).bindTo(registry);
    new RateLimiterMetrics(wiring.chatPerIp).bindTo(registry);
    new RateLimiterMetrics(wiring.researchPerIp).bindTo(registry);
    new RateLimiterMetrics(wiring.exportPerIp).bindTo(registry);
    new RequestQueueMetrics(wiring.queue).bindTo(registry);
    new CircuitBreakerMetrics(wiring.literatureBreaker).bindTo(registry);
    new OutboundGuardMetrics(wiring.literatureGuard).bindTo(registry);
    new QuotaMetrics("chat", wiring.quotas).bindTo(registry);
    new HealthMetrics(wiring.health).bindTo(registry);
    new SluiceFilterMetrics(wiring.ipFilter).bindTo(registry);
    new SluiceFilterMetrics(wiring.filter).bindTo(registry);
  }

  @Override
  protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
    if (!allowed(req)) {
      resp.setStatus(HttpServletResponse.SC_UNAUTHORIZED);
      resp.setHeader("WWW-Authenticate", "Bearer");
      resp.setHeader("Cache-Control", "no-store");
      resp.setContentType("application/json");
      resp.setCharacterEncoding("UTF-8");
      resp.getWriter().write("{\"error\":\"unauthorized\",\"message\":\"metrics need the admin "
          + "token, or a direct request from this host\"}");
      return;
    }
    resp.setStatus(HttpServletResponse.SC_OK);
    resp.setHeader("Cache-Control", "no-store");
    resp.setContentType("text/plain; version=0.0.4");
    resp.setCharacterEncoding("UTF-8");
    resp.getWriter().write(registry.scrape());
  }

  private boolean allowed(HttpServletRequest req) {
    String auth = req.getHeader("Authorization");
    if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return MessageDigest.isEqual(
          auth.substring(7).trim().getBytes(StandardCharsets.UTF_8), adminToken);
    }
    if (req.getHeader("Forwarded") != null || req.getHeader("X-Forwarded-For") != null) {
      return false;
    }
    try {
      return InetAddress.getByName(req.getRemoteAddr()).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
