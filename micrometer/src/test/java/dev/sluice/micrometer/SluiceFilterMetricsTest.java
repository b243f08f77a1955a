package dev.sluice.micrometer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.RateLimiter;
import dev.sluice.servlet.RouteRule;
import dev.sluice.servlet.SluiceFilter;
import dev.sluice.testing.ManualClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.time.Duration;
import java.util.EnumSet;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The filter's outcomes, counted per rule, through real requests in Jetty 12. */
class SluiceFilterMetricsTest {
  private Server server;

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.stop();
    }
  }

  /** Answers "ok". */
  static final class Ok extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      res.setContentType("text/plain");
      res.getWriter().write("ok");
    }
  }

  private int get(String path) throws IOException {
    int port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    HttpURLConnection c = (HttpURLConnection)
        URI.create("http://127.0.0.1:" + port + path).toURL().openConnection();
    c.setConnectTimeout(5_000);
    c.setReadTimeout(5_000);
    int status = c.getResponseCode();
    try (InputStream body = status < 400 ? c.getInputStream() : c.getErrorStream()) {
      if (body != null) {
        body.readAllBytes();
      }
    }
    c.disconnect();
    return status;
  }

  @Test
  void outcomesAreCountedPerRule_everyRulesCountersStartAtZero() throws Exception {
    ManualClock clock = new ManualClock();
    SluiceFilter filter = SluiceFilter.builder()
        .rule(RouteRule.builder("chat").path("/api/chat")
            .perIp(RateLimiter.builder().name("chat").limit(2, Duration.ofMinutes(1))
                .clock(clock).build())
            .build())
        .rule(RouteRule.builder("export").path("/api/export").build())
        .build();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    new SluiceFilterMetrics(filter).bindTo(registry);
    assertThat(registry.get("sluice.http.requests").tags("rule", "export", "outcome", "admitted")
        .counter().count()).isZero();

    server = new Server(0);
    ServletContextHandler context = new ServletContextHandler();
    context.addServlet(new ServletHolder(new Ok()), "/*");
    FilterHolder holder = new FilterHolder(filter);
    holder.setAsyncSupported(true);
    context.addFilter(holder, "/*", EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC));
    server.setHandler(context);
    server.start();

    assertThat(get("/api/chat")).isEqualTo(200);
    assertThat(get("/api/chat")).isEqualTo(200);
    assertThat(get("/api/chat")).isEqualTo(429);
    assertThat(get("/api/export")).isEqualTo(200);

    assertThat(count(registry, "chat", "admitted")).isEqualTo(2);
    assertThat(count(registry, "chat", "rate_limited")).isEqualTo(1);
    assertThat(count(registry, "export", "admitted")).isEqualTo(1);
    assertThat(count(registry, "export", "rate_limited")).isZero();
    assertThat(registry.find("sluice.http.requests").counters()).allSatisfy(c ->
        assertThat(c.getId().getTags()).extracting(t -> t.getKey())
            .containsExactlyInAnyOrder("rule", "outcome"));
  }

  @Test
  void prometheusName_isTheOneTheGrafanaDashboardQueries() {
    SluiceFilter filter = SluiceFilter.builder()
        .rule(RouteRule.builder("chat").path("/api/chat").build()).build();
    io.micrometer.prometheusmetrics.PrometheusMeterRegistry prometheus =
        new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(
            io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
    new SluiceFilterMetrics(filter).bindTo(prometheus);
    assertThat(prometheus.scrape())
        .contains("sluice_http_requests_total{outcome=\"rate_limited\",rule=\"chat\"} 0.0");
  }

  private static double count(SimpleMeterRegistry registry, String rule, String outcome) {
    return registry.get("sluice.http.requests").tags("rule", rule, "outcome", outcome)
        .counter().count();
  }
}
