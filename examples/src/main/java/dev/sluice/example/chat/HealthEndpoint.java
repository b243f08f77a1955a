package dev.sluice.example.chat;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.ComponentHealth;
import dev.sluice.HealthMonitor;
import dev.sluice.HealthReport;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Locale;
import java.util.Map;

/**
 * TEMPORARY: {@code GET /api/system-health} as the report's JSON, until the servlet adapter's
 * {@code dev.sluice.servlet.HealthServlet} lands; then that is mounted instead.
 */
final class HealthEndpoint extends HttpServlet {
  private static final long serialVersionUID = 1L;
  private final transient HealthMonitor health;
  private final byte[] adminToken;

  HealthEndpoint(HealthMonitor health, String adminToken) {
    this.health = health;
    this.adminToken = adminToken.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    HealthReport r = health.report();
    ObjectNode out = Json.object().put("score", r.score())
        .put("status", r.status().name().toLowerCase(Locale.ROOT));
    int status = r.status() == dev.sluice.HealthStatus.UNHEALTHY ? 503 : 200;
    String auth = request.getHeader("Authorization");
    if (auth == null || !auth.startsWith("Bearer ") || !java.security.MessageDigest.isEqual(
        auth.substring(7).trim().getBytes(java.nio.charset.StandardCharsets.UTF_8), adminToken)) {
      Json.write(response, status, out);
      return;
    }
    ArrayNode components = out.putArray("components");
    for (ComponentHealth c : r.components()) {
      ObjectNode o = components.addObject().put("name", c.name()).put("score", c.score());
      ObjectNode figures = o.putObject("figures");
      for (Map.Entry<String, Object> f : c.figures().entrySet()) {
        figures.set(f.getKey(), Json.MAPPER.valueToTree(f.getValue()));
      }
      o.set("recommendations", Json.MAPPER.valueToTree(c.recommendations()));
    }
    out.set("recommendations", Json.MAPPER.valueToTree(r.recommendations()));
    Json.write(response, status, out);
  }
}
