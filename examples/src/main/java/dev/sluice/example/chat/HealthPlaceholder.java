package dev.sluice.example.chat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.RequestQueue;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/** TEMPORARY: replaced by dev.sluice.servlet.HealthServlet when it lands on main. */
final class HealthPlaceholder extends HttpServlet {
  private static final long serialVersionUID = 1L;
  private final transient SluiceWiring wiring;

  HealthPlaceholder(SluiceWiring wiring) {
    this.wiring = wiring;
  }

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    RequestQueue.Stats<String> s = wiring.queue.stats();
    ObjectNode out = Json.object().put("score", 100).put("status", "healthy");
    out.putObject("queue").put("active", s.active()).put("queued", s.queued());
    out.put("errorRate", 0.0);
    out.putObject("breakers").put("literature", "closed");
    Json.write(response, 200, out);
  }
}
