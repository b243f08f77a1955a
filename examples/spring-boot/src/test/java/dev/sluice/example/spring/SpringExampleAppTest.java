package dev.sluice.example.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.test.context.SpringBootTest;

/** Smoke test: the example starts with its application.yml and protects its route. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SpringExampleAppTest {
  @Value("${local.server.port}")
  int port;

  private final HttpClient http = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void answerRoute_allowsThreeAMinute_thenAnswers429() throws Exception {
    List<Integer> statuses = new ArrayList<>();
    HttpResponse<String> last = null;
    for (int i = 0; i < 4; i++) {
      last = http.send(HttpRequest.newBuilder(uri("/api/answer"))
              .timeout(Duration.ofSeconds(20))
              .header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString("{\"question\":\"q" + i + "\"}"))
              .build(),
          HttpResponse.BodyHandlers.ofString());
      statuses.add(last.statusCode());
    }
    assertThat(statuses).containsExactly(200, 200, 200, 429);
    assertThat(last.headers().firstValue("RateLimit-Policy")).hasValue("\"answer\";q=3;w=60");
    assertThat(last.body()).contains("\"error\":\"rate_limited\"");

    HttpResponse<String> hello = http.send(HttpRequest.newBuilder(uri("/api/hello"))
        .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(hello.statusCode()).isEqualTo(200);
    assertThat(hello.headers().firstValue("RateLimit-Policy")).isEmpty();

    HttpResponse<String> health = http.send(HttpRequest.newBuilder(uri("/actuator/health"))
        .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(health.body()).contains("\"sluice\"");
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
