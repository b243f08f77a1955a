package dev.sluice.example.chat;

import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

/**
 * Serves the pages and their scripts from the jar ({@code /static/...} on the class path):
 * {@code /} is the chat page, {@code /dashboard} the health dashboard. Nothing comes from a CDN.
 *
 * <p>Thread-safe.
 */
final class StaticServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;
  private static final Map<String, String> TYPES = Map.of(
      "html", "text/html; charset=utf-8",
      "js", "text/javascript; charset=utf-8",
      "css", "text/css; charset=utf-8",
      "svg", "image/svg+xml",
      "png", "image/png");

  @Override
  protected void service(HttpServletRequest request, HttpServletResponse response)
      throws ServletException, IOException {
    String method = request.getMethod();
    if (!method.equals("GET") && !method.equals("HEAD")) {
      response.setHeader("Allow", "GET, HEAD");
      Json.error(response, 405, "method_not_allowed", "Pages answer GET and HEAD only.");
      return;
    }
    super.service(request, response);
  }

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    String path = ApiRoutes.path(request);
    String file = switch (path) {
      case "/", "/index.html" -> "index.html";
      case "/dashboard", "/dashboard/" -> "dashboard.html";
      default -> path.startsWith("/static/") ? path.substring("/static/".length()) : null;
    };
    if (file == null || !file.matches("[a-zA-Z0-9_-]+\\.[a-z]+")) {
      Json.error(response, 404, "not_found", "There is no page at this path.");
      return;
    }
    String ext = file.substring(file.lastIndexOf('.') + 1);
    try (InputStream in = StaticServlet.class.getResourceAsStream("/static/" + file)) {
      if (in == null || !TYPES.containsKey(ext)) {
        Json.error(response, 404, "not_found", "There is no page at this path.");
        return;
      }
      byte[] bytes = in.readAllBytes();
      response.setStatus(200);
      response.setContentType(TYPES.get(ext));
      response.setHeader("Cache-Control", "no-cache");
      response.setHeader("X-Content-Type-Options", "nosniff");
      response.setContentLength(bytes.length);
      response.getOutputStream().write(bytes);
    }
  }
}
