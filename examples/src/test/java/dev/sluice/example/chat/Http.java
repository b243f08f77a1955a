package dev.sluice.example.chat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A real HTTP client against a running app; every call is bounded. */
final class Http {
  final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
      .version(HttpClient.Version.HTTP_1_1).build();
  final URI base;

  Http(URI base) {
    this.base = base;
  }

  HttpResponse<String> post(String path, String body, String... headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path.substring(1)))
        .timeout(Duration.ofSeconds(30))
        .POST(body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> get(String path, String... headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path.substring(1)))
        .timeout(Duration.ofSeconds(30)).GET();
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A new free-plan session's token. */
  String token() throws IOException, InterruptedException {
    HttpResponse<String> r = post("/api/session", null);
    if (r.statusCode() != 201) {
      throw new IllegalStateException("session: " + r.statusCode() + " " + r.body());
    }
    return json(r).path("token").asText();
  }

  HttpResponse<String> chat(String token, String message)
      throws IOException, InterruptedException {
    return post("/api/chat", "{\"message\":" + Json.MAPPER.writeValueAsString(message)
        + ",\"useRAG\":true}", "Authorization", "Bearer " + token);
  }

  static JsonNode json(HttpResponse<String> r) throws IOException {
    return Json.MAPPER.readTree(r.body());
  }
}
