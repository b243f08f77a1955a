package dev.sluice.example.chat;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Set;

/**
 * The API's routes in one table, and the gate in front of the limits and authentication: a path
 * under {@code /api/} that is no route is a 404, a route asked with the wrong method a 405 with
 * {@code Allow}; both answered here, as JSON, before any limit, token lookup, quota or queue is
 * spent on them.
 *
 * <p>Every decision in the app is made on {@link #path(HttpServletRequest)}: the container's
 * decoded, normalized path, the same string it maps servlets and the Sluice filter matches
 * rules with. The raw request URI ({@code /api/%63hat}, {@code /api/chat;x=1}, {@code
 * /api/./chat}) is never compared, so no spelling of a path reaches a handler without passing
 * the checks made for it.
 *
 * <p>Thread-safe (stateless).
 */
final class ApiRoutes implements Filter {

  /** One API route: its path, whether it needs a session, the methods it answers. */
  enum Route {
    SESSION("/api/session", false, "POST"),
    CHAT("/api/chat", true, "POST"),
    RESEARCH("/api/research", true, "POST"),
    EXPORT("/api/export", true, "POST"),
    HEALTH("/api/system-health", false, "GET", "HEAD", "POST");

    final String path;
    final boolean authenticated;
    final Set<String> methods;
    final String allow;

    Route(String path, boolean authenticated, String... methods) {
      this.path = path;
      this.authenticated = authenticated;
      this.methods = Set.of(methods);
      this.allow = String.join(", ", methods);
    }
  }

  /**
   * The request's path inside the app, decoded and normalized by the container (path parameters
   * and dot segments removed, percent-escapes decoded).
   *
   * @param request the request
   * @return {@code servletPath + pathInfo}
   */
  static String path(HttpServletRequest request) {
    String info = request.getPathInfo();
    return info == null ? request.getServletPath() : request.getServletPath() + info;
  }

  /**
   * The route at a path.
   *
   * @param path a path from {@link #path(HttpServletRequest)}
   * @return the route, or null when none is there
   */
  static Route route(String path) {
    for (Route r : Route.values()) {
      if (r.path.equals(path)) {
        return r;
      }
    }
    return null;
  }

  static boolean isApi(String path) {
    return path.equals("/api") || path.startsWith("/api/");
  }

  @Override
  public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    HttpServletRequest request = (HttpServletRequest) req;
    HttpServletResponse response = (HttpServletResponse) res;
    String path = path(request);
    if (request.getDispatcherType() != DispatcherType.REQUEST || !isApi(path)) {
      chain.doFilter(req, res);
      return;
    }
    Route route = route(path);
    if (route == null) {
      Json.error(response, 404, "not_found", "There is no API at this path.");
      return;
    }
    if (!route.methods.contains(request.getMethod())) {
      response.setHeader("Allow", route.allow);
      Json.error(response, 405, "method_not_allowed", route.path + " answers " + route.allow
          + " only.");
      return;
    }
    chain.doFilter(req, res);
  }
}
