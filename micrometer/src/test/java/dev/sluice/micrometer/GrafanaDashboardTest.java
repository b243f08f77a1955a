package dev.sluice.micrometer;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.CircuitBreaker;
import dev.sluice.ComponentHealth;
import dev.sluice.HealthMonitor;
import dev.sluice.OutboundGuard;
import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.servlet.RouteRule;
import dev.sluice.servlet.SluiceFilter;
import dev.sluice.testing.ManualClock;
import dev.sluice.testing.ManualScheduler;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The shipped Grafana dashboard ({@code examples/grafana/sluice-dashboard.json}) only queries
 * metrics that exist: every binder is bound to a Prometheus registry, and every {@code sluice_*}
 * name in every panel expression must appear in its scrape.
 */
class GrafanaDashboardTest {
  private static final Pattern METRIC = Pattern.compile("\\bsluice_[a-z0-9_]+\\b");
  /** Label names after {@code by}/{@code without}, and in matchers. */
  private static final Pattern BY = Pattern.compile("\\b(?:by|without)\\s*\\(([^)]*)\\)");
  private static final Pattern MATCHER = Pattern.compile("([a-z_]+)\\s*(?:=~|!~|!=|=)\\s*\"");

  static Path dashboard() {
    Path base = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
    return base.resolve("../examples/grafana/sluice-dashboard.json").normalize();
  }

  private static String scrape() {
    ManualClock clock = new ManualClock();
    ManualScheduler scheduler = new ManualScheduler(clock);
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new RateLimiterMetrics(RateLimiter.builder().name("chat").limit(5, Duration.ofMinutes(1))
        .clock(clock).build()).bindTo(registry);
    new RequestQueueMetrics(RequestQueue.builder().name("chat-service").maxConcurrent(2)
        .clock(clock).scheduler(scheduler).build()).bindTo(registry);
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").clock(clock).build();
    new CircuitBreakerMetrics(breaker).bindTo(registry);
    new OutboundGuardMetrics(OutboundGuard.builder().name("pubmed").circuitBreaker(breaker)
        .clock(clock).scheduler(scheduler).build()).bindTo(registry);
    MetricsTest.FakeQuotaEvents quotas = new MetricsTest.FakeQuotaEvents();
    new QuotaMetrics("main", quotas).bindTo(registry);
    quotas.consume("someone", "chat", true); // a quota's counters appear on its first event
    new HealthMetrics(HealthMonitor.builder()
        .add(() -> new ComponentHealth("queue", 100, Map.of(), List.of())).build())
        .bindTo(registry);
    SluiceFilter filter = SluiceFilter.builder()
        .rule(RouteRule.builder("chat").path("/api/chat").build()).build();
    new SluiceFilterMetrics(filter).bindTo(registry);
    return registry.scrape();
  }

  @Test
  void everyMetricAndLabelTheDashboardQueries_isExported() throws IOException {
    JsonNode root = new ObjectMapper().readTree(Files.readString(dashboard()));
    List<String> exprs = new ArrayList<>();
    for (JsonNode panel : root.path("panels")) {
      assertThat(panel.path("datasource").path("type").asText())
          .as("panel %s", panel.path("title")).isEqualTo("prometheus");
      for (JsonNode target : panel.path("targets")) {
        exprs.add(target.path("expr").asText());
      }
    }
    assertThat(exprs).hasSizeGreaterThanOrEqualTo(10);

    String scrape = scrape();
    Set<String> exported = new TreeSet<>();
    Set<String> labels = new TreeSet<>(Set.of("le"));
    Matcher sample = Pattern.compile("(?m)^(sluice_[a-z0-9_]+)(\\{([^}]*)})?\\s").matcher(scrape);
    while (sample.find()) {
      exported.add(sample.group(1));
      if (sample.group(3) != null) {
        Matcher label = Pattern.compile("([a-z_]+)=\"").matcher(sample.group(3));
        while (label.find()) {
          labels.add(label.group(1));
        }
      }
    }

    for (String expr : exprs) {
      assertThat(balanced(expr)).as("brackets of %s", expr).isTrue();
      Matcher m = METRIC.matcher(expr);
      boolean any = false;
      while (m.find()) {
        any = true;
        String name = m.group();
        assertThat(exported).as("metric in %s", expr).contains(name);
      }
      assertThat(any).as("a sluice metric in %s", expr).isTrue();
      Matcher by = BY.matcher(expr);
      while (by.find()) {
        for (String label : by.group(1).split(",")) {
          assertThat(labels).as("label in %s", expr).contains(label.trim());
        }
      }
      Matcher matcher = MATCHER.matcher(expr);
      while (matcher.find()) {
        assertThat(labels).as("label in %s", expr).contains(matcher.group(1));
      }
    }
  }

  private static boolean balanced(String expr) {
    int round = 0;
    int curly = 0;
    int square = 0;
    for (char c : expr.toCharArray()) {
      switch (c) {
        case '(' -> round++;
        case ')' -> round--;
        case '{' -> curly++;
        case '}' -> curly--;
        case '[' -> square++;
        case ']' -> square--;
        default -> { }
      }
      if (round < 0 || curly < 0 || square < 0) {
        return false;
      }
    }
    return round == 0 && curly == 0 && square == 0;
  }
}
