package dev.sluice.example.spring;

import java.time.Instant;
import java.util.Map;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/**
 * A small Spring Boot application protected by {@code sluice-spring-boot-starter}. No Sluice code
 * here: {@code application.yml} configures one protected route, {@code POST /api/answer} (3 calls
 * a minute per client IP, at most 2 answered at once, others queued), and the actuator shows
 * Sluice's health and settings at {@code /actuator/health} and {@code /actuator/sluice}.
 */
@SpringBootApplication
public class SpringExampleApp {

  /**
   * Starts the application (port 8080 unless {@code --server.port=…}).
   *
   * @param args Spring Boot arguments
   */
  public static void main(String[] args) {
    SpringApplication.run(SpringExampleApp.class, args);
  }

  /** The protected route and an unprotected one. */
  @RestController
  static class Api {
    @PostMapping("/api/answer")
    Map<String, Object> answer(@RequestBody Map<String, Object> question) {
      Object q = question.getOrDefault("question", "");
      return Map.of("question", q, "answer", "Sluice let this one through.",
          "at", Instant.now().toString());
    }

    @GetMapping("/api/hello")
    Map<String, Object> hello() {
      return Map.of("hello", "not rate limited");
    }
  }
}
