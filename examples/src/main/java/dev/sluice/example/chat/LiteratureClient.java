package dev.sluice.example.chat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.OutboundGuard;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Searches the literature through the NCBI E-utilities JSON API: {@code esearch} for ids, then
 * {@code esummary} for titles, authors, dates and journals. Each HTTP call is one attempt of the
 * outbound guard (pacing, retry with backoff, circuit breaker), so two calls per search.
 *
 * <p>Thread-safe.
 */
final class LiteratureClient {
  /** One retrieved record. */
  record Source(String uid, String title, List<String> authors, String pubdate, String journal,
      String url) {}

  /** A failed call the guard may retry: the service answered 5xx or 429, or the call failed. */
  static final class LiteratureException extends IOException {
    private static final long serialVersionUID = 1L;

    LiteratureException(String message) {
      super(message);
    }
  }

  private final Supplier<URI> base;
  private final OutboundGuard guard;
  private final HttpClient http;
  private final Duration attemptTimeout;
  private final boolean pubmedLinks;

  /**
   * A client.
   *
   * @param base the E-utilities base URL, ending in {@code /}
   * @param guard the outbound guard every HTTP call runs through
   * @param attemptTimeout the HTTP timeout of one call
   * @param pubmedLinks whether records link to PubMed (the real service), or to the stub's own
   *     summary (its records are made up and must not point at real articles)
   */
  LiteratureClient(Supplier<URI> base, OutboundGuard guard, Duration attemptTimeout,
      boolean pubmedLinks) {
    this.pubmedLinks = pubmedLinks;
    this.base = Objects.requireNonNull(base, "base");
    this.guard = Objects.requireNonNull(guard, "guard");
    this.attemptTimeout = attemptTimeout;
    this.http = HttpClient.newBuilder()
        .connectTimeout(attemptTimeout)
        .followRedirects(HttpClient.Redirect.NORMAL)
        .build();
  }

  /**
   * Finds the most relevant records for a query.
   *
   * @param query the user's question
   * @param max the most records to return
   * @return the records, possibly none
   * @throws Exception what the guard throws when the service cannot answer (breaker open,
   *     pacing wait too long, attempts exhausted)
   */
  List<Source> search(String query, int max) throws Exception {
    String term = URLEncoder.encode(query, StandardCharsets.UTF_8);
    JsonNode found = guard.call(() -> get("esearch.fcgi?db=pubmed&retmode=json&sort=relevance"
        + "&retmax=" + max + "&term=" + term));
    List<String> ids = new ArrayList<>();
    for (JsonNode id : found.path("esearchresult").path("idlist")) {
      ids.add(id.asText());
    }
    if (ids.isEmpty()) {
      return List.of();
    }
    String idList = URLEncoder.encode(String.join(",", ids), StandardCharsets.UTF_8);
    JsonNode summary = guard.call(() -> get("esummary.fcgi?db=pubmed&retmode=json&id=" + idList));
    JsonNode result = summary.path("result");
    List<Source> sources = new ArrayList<>();
    for (JsonNode uid : result.path("uids")) {
      JsonNode doc = result.path(uid.asText());
      List<String> authors = new ArrayList<>();
      for (JsonNode a : doc.path("authors")) {
        authors.add(a.path("name").asText());
      }
      sources.add(new Source(uid.asText(), doc.path("title").asText(""), authors,
          doc.path("pubdate").asText(""), doc.path("source").asText(""),
          pubmedLinks ? "https://pubmed.ncbi.nlm.nih.gov/" + uid.asText() + "/"
              : base.get().resolve("esummary.fcgi?db=pubmed&retmode=json&id=" + uid.asText())
                  .toString()));
    }
    return sources;
  }

  private JsonNode get(String pathAndQuery) throws IOException, InterruptedException {
    HttpRequest request = HttpRequest.newBuilder(base.get().resolve(pathAndQuery))
        .timeout(attemptTimeout)
        .header("Accept", "application/json")
        .GET().build();
    HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
    int status = response.statusCode();
    if (status >= 500 || status == 429) {
      throw new LiteratureException("literature service answered " + status);
    }
    if (status != 200) {
      throw new IllegalStateException("literature service answered " + status + " to "
          + pathAndQuery);
    }
    return Json.MAPPER.readTree(response.body());
  }
}
