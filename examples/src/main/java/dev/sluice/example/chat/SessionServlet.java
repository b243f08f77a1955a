package dev.sluice.example.chat;

import com.fasterxml.jackson.databind.JsonNode;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.SQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /api/session}: issues a bearer token for a new user on the free plan; with {@code
 * {"plan":"pro"}} and the admin token as {@code Authorization: Bearer <admin token>} (the same
 * header the health endpoint's admin actions take), on the pro plan. Rate-limited per IP by the
 * Sluice filter.
 *
 * <p>Thread-safe.
 */
final class SessionServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(SessionServlet.class);

  private final transient SessionStore sessions;
  private final byte[] adminToken;

  SessionServlet(SessionStore sessions, String adminToken) {
    this.sessions = sessions;
    this.adminToken = adminToken.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  protected void doPost(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    String plan = "free";
    try {
      if (request.getContentLengthLong() > 0) {
        JsonNode body = Json.readObject(request);
        plan = body.path("plan").asText("free");
      }
      if (!plan.equals("free") && !plan.equals("pro")) {
        throw new Json.BadRequest(400, "bad_field", "plan must be free or pro");
      }
    } catch (Json.BadRequest e) {
      Json.error(response, e);
      return;
    }
    if (plan.equals("pro") && !isAdmin(request, adminToken)) {
      Json.error(response, 403, "forbidden", "a pro session needs Authorization: Bearer <admin token>");
      return;
    }
    SessionStore.Session s;
    try {
      s = sessions.issue(plan);
    } catch (SQLException e) {
      LOG.warn("session could not be stored", e);
      response.setHeader("Retry-After", "2");
      Json.error(response, 503, "unavailable", "The session store is unavailable; try again.");
      return;
    }
    Json.write(response, 201, Json.object().put("token", s.token()).put("tokenType", "Bearer")
        .put("userId", s.userId()).put("plan", s.plan())
        .put("expiresAt", s.expiresAt().toString()));
  }

  static boolean isAdmin(HttpServletRequest request, byte[] adminToken) {
    String header = request.getHeader("Authorization");
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return false;
    }
    return MessageDigest.isEqual(header.substring(7).trim().getBytes(StandardCharsets.UTF_8),
        adminToken);
  }
}
