package dev.sluice.example.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.ErrorTracker;
import dev.sluice.PacingRejectedException;
import dev.sluice.QuotaDecision;
import dev.sluice.QuotaGate;
import dev.sluice.QuotaStoreException;
import dev.sluice.servlet.SluiceFilter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The API handlers behind the Sluice filter: {@code POST /api/chat}, {@code POST /api/research},
 * {@code POST /api/export}. By the time a request gets here it is authenticated, within its
 * per-IP limit, holds a queue permit and (for chat) has consumed a unit of quota. A handler that
 * answers 5xx gets that unit refunded by the filter.
 *
 * <p>Thread-safe.
 */
final class ApiServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(ApiServlet.class);

  /** The longest chat message or research query, in characters. */
  static final int MAX_MESSAGE = 2_000;

  private final transient LiteratureClient literature;
  private final transient ConversationStore conversations;
  private final transient LiteratureErrors errors;
  private final transient ErrorTracker tracker;
  private final transient QuotaGate quotas;
  private final transient ApiTraffic traffic;

  /** Maps a failed literature call to the status and Retry-After the client sees. */
  interface LiteratureErrors {
    /**
     * @param failure what the guard threw
     * @return seconds the client should wait
     */
    long retryAfterSeconds(Throwable failure);

    /**
     * @param failure what the guard threw
     * @return a short machine-readable reason
     */
    String reason(Throwable failure);
  }

  ApiServlet(LiteratureClient literature, ConversationStore conversations,
      LiteratureErrors errors, ErrorTracker tracker, QuotaGate quotas, ApiTraffic traffic) {
    this.tracker = tracker;
    this.traffic = traffic;
    this.quotas = quotas;
    this.literature = literature;
    this.conversations = conversations;
    this.errors = errors;
  }

  @Override
  protected void doPost(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    String user = (String) request.getAttribute(AuthFilter.USER);
    ApiRoutes.Route route = ApiRoutes.route(ApiRoutes.path(request));
    if (user == null || route == null) {
      // Unreachable behind ApiRoutes and AuthFilter; refuse rather than serve unauthenticated.
      Json.error(response, 404, "not_found", "There is no API at this path.");
      return;
    }
    ApiTraffic.Handling counted = traffic.enter(user);
    try {
      switch (route) {
        case CHAT -> chat(request, response, user);
        case RESEARCH -> research(request, response, user);
        case EXPORT -> export(request, response, user);
        default -> Json.error(response, 404, "not_found", "There is no API at this path.");
      }
    } catch (Json.BadRequest e) {
      refundClientError(request, user);
      Json.error(response, e);
    } catch (SQLException e) {
      LOG.warn("database failed", e);
      response.setHeader("Retry-After", "2");
      Json.error(response, 503, "unavailable", "The database is unavailable; please try again.");
    } finally {
      counted.close();
    }
  }

  /**
   * The filter refunds a quota unit when the handler answers 5xx; a request the client got wrong
   * (400, 413) did no work either, so it is refunded here: a typo must not cost a daily chat.
   */
  private void refundClientError(HttpServletRequest request, String user) {
    Object decision = request.getAttribute(SluiceFilter.QUOTA_ATTRIBUTE);
    Object requestId = request.getAttribute(SluiceFilter.REQUEST_ID_ATTRIBUTE);
    if (decision instanceof QuotaDecision d && d.allowed() && requestId != null && user != null) {
      try {
        quotas.refund(user, d.quota(), requestId.toString());
      } catch (QuotaStoreException e) {
        LOG.warn("refund after a client error failed", e);
      }
    }
  }

  private void chat(HttpServletRequest request, HttpServletResponse response, String user)
      throws IOException, Json.BadRequest, SQLException {
    JsonNode body = Json.readObject(request);
    String message = Json.requiredText(body, "message", MAX_MESSAGE);
    JsonNode rag = body.get("useRAG");
    if (rag != null && !rag.isNull() && !rag.isBoolean()) {
      throw new Json.BadRequest(400, "bad_field", "field 'useRAG' must be true or false");
    }
    boolean useRag = rag == null || rag.isNull() || rag.booleanValue();
    List<LiteratureClient.Source> sources = useRag ? retrieve(message, 5, response) : List.of();
    if (sources == null) {
      return; // answered 503; the filter refunds the quota
    }
    String answer = AnswerComposer.compose(message, sources, useRag);
    ArrayNode sourceJson = sourcesJson(sources);
    conversations.add(user, "chat", message, answer, Json.MAPPER.writeValueAsString(sourceJson));
    ObjectNode out = Json.object();
    out.put("answer", answer);
    out.set("sources", sourceJson);
    Object q = request.getAttribute(SluiceFilter.QUOTA_ATTRIBUTE);
    if (q instanceof QuotaDecision d) {
      out.putObject("quota").put("name", d.quota()).put("used", d.used()).put("limit", d.limit())
          .put("remaining", d.remaining()).put("resetsAt", d.resetsAt().toString());
    }
    out.put("requestId", String.valueOf(request.getAttribute(SluiceFilter.REQUEST_ID_ATTRIBUTE)));
    Json.write(response, 200, out);
  }

  private void research(HttpServletRequest request, HttpServletResponse response, String user)
      throws IOException, Json.BadRequest, SQLException {
    JsonNode body = Json.readObject(request);
    String query = Json.requiredText(body, "query", MAX_MESSAGE);
    List<LiteratureClient.Source> sources = retrieve(query, 10, response);
    if (sources == null) {
      return;
    }
    String summary = AnswerComposer.compose(query, sources, true);
    ArrayNode sourceJson = sourcesJson(sources);
    conversations.add(user, "research", query, summary,
        Json.MAPPER.writeValueAsString(sourceJson));
    ObjectNode out = Json.object().put("query", query).put("count", sources.size())
        .put("summary", summary);
    out.set("sources", sourceJson);
    Json.write(response, 200, out);
  }

  private void export(HttpServletRequest request, HttpServletResponse response, String user)
      throws IOException, Json.BadRequest, SQLException {
    String format = request.getParameter("format");
    if (format == null && request.getContentLengthLong() != 0) {
      JsonNode body = Json.readObject(request);
      format = body.path("format").asText("markdown");
    }
    format = format == null ? "markdown" : format.toLowerCase(Locale.ROOT);
    List<ConversationStore.Entry> entries = conversations.list(user, 1_000);
    String text;
    String type;
    String ext;
    switch (format) {
      case "markdown", "md" -> {
        text = Exports.markdown(entries);
        type = "text/markdown";
        ext = "md";
      }
      case "csv" -> {
        text = Exports.csv(entries);
        type = "text/csv";
        ext = "csv";
      }
      default -> throw new Json.BadRequest(400, "bad_field", "format must be markdown or csv");
    }
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    response.setStatus(200);
    response.setContentType(type + "; charset=utf-8");
    response.setHeader("Content-Disposition", "attachment; filename=\"conversation." + ext + "\"");
    response.setHeader("Cache-Control", "no-store");
    response.setContentLength(bytes.length);
    response.getOutputStream().write(bytes);
  }

  /** Returns the sources, or null after answering 503 (the breaker is open or calls failed). */
  private List<LiteratureClient.Source> retrieve(String query, int max,
      HttpServletResponse response) throws IOException {
    try {
      List<LiteratureClient.Source> found = literature.search(query, max);
      tracker.recordSuccess("literature");
      return found;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      response.setHeader("Retry-After", "1");
      Json.error(response, 503, "unavailable", "Interrupted; please try again.");
      return null;
    } catch (Exception e) {
      if (!(e instanceof PacingRejectedException)) {
        // A pacing refusal is our own limit shedding load, not the service failing.
        tracker.recordFailure("literature");
      }
      long seconds = Math.max(1, errors.retryAfterSeconds(e));
      LOG.debug("literature search failed", e);
      response.setHeader("Retry-After", Long.toString(seconds));
      ObjectNode body = Json.object().put("error", "literature_unavailable")
          .put("reason", errors.reason(e))
          .put("message", "The literature service is unavailable; your quota was not charged."
              + " Try again in " + seconds + " s.")
          .put("retryAfterSeconds", seconds);
      Json.write(response, 503, body);
      return null;
    }
  }

  private static ArrayNode sourcesJson(List<LiteratureClient.Source> sources) {
    ArrayNode arr = Json.MAPPER.createArrayNode();
    for (LiteratureClient.Source s : sources) {
      ObjectNode o = arr.addObject();
      o.put("uid", s.uid()).put("title", s.title()).put("journal", s.journal())
          .put("pubdate", s.pubdate()).put("url", s.url());
      ArrayNode a = o.putArray("authors");
      s.authors().forEach(a::add);
    }
    return arr;
  }
}
