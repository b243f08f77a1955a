package dev.sluice.servlet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * A real servlet container on an ephemeral loopback port, with a real HTTP/1.1 client. The filter's
 * HTTP tests run once per implementation ({@link JettyHarness}, {@link TomcatHarness}), so each
 * behaviour is proved in both containers. Filters are added in order, to {@code /*}, for the
 * REQUEST and ASYNC dispatches; servlets and filters are async-supported.
 */
interface ServletContainer extends AutoCloseable {
  ObjectMapper JSON = new ObjectMapper();

  /**
   * Adds a filter after those already added.
   *
   * @param filter the filter
   * @return this container
   */
  ServletContainer filter(Filter filter);

  /**
   * Maps a servlet.
   *
   * @param path a servlet mapping, such as {@code /api/*}
   * @param servlet the servlet
   * @return this container
   */
  ServletContainer servlet(String path, HttpServlet servlet);

  /**
   * Starts the container; filters and servlets must be added before.
   *
   * @return this container
   * @throws Exception if it cannot start
   */
  ServletContainer start() throws Exception;

  /**
   * The port the started container listens on, on 127.0.0.1.
   *
   * @return the port
   */
  int port();

  /**
   * The client the helpers send with: HTTP/1.1, one per container.
   *
   * @return the client
   */
  HttpClient client();

  /** Stops the container and frees its port and threads. */
  @Override
  void close();

  default URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port()).resolve(path);
  }

  default HttpResponse<String> send(HttpRequest.Builder request)
      throws IOException, InterruptedException {
    return client().send(request.timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  default HttpResponse<String> post(String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path))
        .POST(HttpRequest.BodyPublishers.ofString("{}"));
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return send(b);
  }

  default HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).GET();
    for (int i = 0; i + 1 < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return send(b);
  }

  static HttpClient newClient() {
    return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
        .version(HttpClient.Version.HTTP_1_1).build();
  }

  static JsonNode json(HttpResponse<String> response) throws IOException {
    return JSON.readTree(response.body());
  }
}
