package dev.sluice.example.chat;

import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.sql.SQLException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks {@code Authorization: Bearer <token>} on the routes {@link ApiRoutes} marks as needing a
 * session (decided on the container's normalized path, never the raw URI) and sets the request
 * attributes {@value #USER} and {@value #PLAN}, which the Sluice filter after it reads
 * ({@code UserKeyResolver.requestAttribute("user")}). The user is never taken from a header a
 * client chooses. Runs before the Sluice filter; answers 401 itself.
 *
 * <p>Thread-safe.
 */
final class AuthFilter implements Filter {
  static final String USER = "user";
  static final String PLAN = "plan";
  private static final Logger LOG = LoggerFactory.getLogger(AuthFilter.class);

  private final SessionStore sessions;

  AuthFilter(SessionStore sessions) {
    this.sessions = sessions;
  }

  @Override
  public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    HttpServletRequest request = (HttpServletRequest) req;
    HttpServletResponse response = (HttpServletResponse) res;
    String path = ApiRoutes.path(request);
    ApiRoutes.Route route = ApiRoutes.route(path);
    boolean open = route == null ? !ApiRoutes.isApi(path) : !route.authenticated;
    if (request.getAttribute(USER) != null || open) {
      chain.doFilter(req, res); // a public path, or an async re-dispatch already authenticated
      return;
    }
    String header = request.getHeader("Authorization");
    String token = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
        ? header.substring(7).trim() : null;
    Optional<SessionStore.Session> session;
    try {
      session = sessions.find(token);
    } catch (SQLException e) {
      LOG.warn("session lookup failed", e);
      response.setHeader("Retry-After", "1");
      Json.error(response, 503, "unavailable", "The session store is unavailable; try again.");
      return;
    }
    if (session.isEmpty()) {
      response.setHeader("WWW-Authenticate", "Bearer");
      Json.error(response, 401, "unauthorized", token == null
          ? "Send Authorization: Bearer <token>; get a token with POST /api/session."
          : "Unknown or expired token; get a new one with POST /api/session.");
      return;
    }
    request.setAttribute(USER, session.get().userId());
    request.setAttribute(PLAN, session.get().plan());
    chain.doFilter(req, res);
  }
}
