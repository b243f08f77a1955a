package dev.sluice.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.RateLimiter;
import dev.sluice.servlet.SluiceFilter;
import dev.sluice.testing.Await;
import dev.sluice.testing.TestDatabase;
import dev.sluice.testing.TestPostgres;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;

/**
 * The shared stores, built from the properties on a real PostgreSQL (embedded, or
 * {@code SLUICE_TEST_JDBC_URL}) and a real {@code redis-server} started on a free loopback port.
 */
class SluiceStoresTest {
  private final WebApplicationContextRunner runner = new WebApplicationContextRunner()
      .withConfiguration(AutoConfigurations.of(SluiceAutoConfiguration.class))
      .withPropertyValues("sluice.rules[0].name=chat", "sluice.rules[0].paths=/api/chat",
          "sluice.rules[0].per-ip.limit=2", "sluice.rules[0].per-ip.period=1h");

  @Test
  void postgresStore_decidesInTheDatabase_andQuotaUsesTheDataSource() throws Exception {
    try (TestDatabase db = TestPostgres.shared().createDatabase()) {
      runner.withBean(DataSource.class, db::dataSource)
          .withPropertyValues("sluice.store.type=postgres", "sluice.rules[0].quota=chat")
          .run(context -> {
            assertThat(context).hasNotFailed();
            RateLimiter<String> chat =
                context.getBean(SluiceComponents.class).rateLimiters().get("chat");
            assertThat(chat.tryAcquire("192.0.2.1").allowed()).isTrue();
            assertThat(chat.tryAcquire("192.0.2.1").allowed()).isTrue();
            assertThat(chat.tryAcquire("192.0.2.1").allowed()).isFalse();
            assertThat(chat.tryAcquire("192.0.2.2").allowed()).isTrue();
            assertThat(context.getBean(SluiceFilter.class).rules().get(0).quota())
                .isEqualTo("chat");
          });
      try (Connection c = db.connect(); Statement s = c.createStatement();
          ResultSet rs = s.executeQuery(
              "SELECT count(*) FROM sluice.rate_limit_state WHERE namespace = 'chat'")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getLong(1)).as("keys stored by the chat limiter").isEqualTo(2);
      }
    }
  }

  @Test
  void redisStore_decidesInRedis_fromTheUriProperty() throws Exception {
    Path redisServer = redisServer();
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Process server = new ProcessBuilder(redisServer.toString(), "--port", Integer.toString(port),
        "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    try {
      waitForPort(port, Duration.ofSeconds(10));
      runner.withPropertyValues("sluice.store.type=redis",
              "sluice.store.redis.uri=redis://127.0.0.1:" + port,
              "sluice.store.redis.command-timeout=2s")
          .run(context -> {
            assertThat(context).hasNotFailed();
            RateLimiter<String> chat =
                context.getBean(SluiceComponents.class).rateLimiters().get("chat");
            assertThat(chat.isLocal()).isFalse();
            List<Boolean> allowed = List.of(
                chat.tryAcquire("192.0.2.1").allowed(), chat.tryAcquire("192.0.2.1").allowed(),
                chat.tryAcquire("192.0.2.1").allowed(), chat.tryAcquire("192.0.2.9").allowed());
            assertThat(allowed).containsExactly(true, true, false, true);
          });
    } finally {
      server.destroy();
      if (!server.waitFor(10, TimeUnit.SECONDS)) {
        server.destroyForcibly();
      }
    }
  }

  private static Path redisServer() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path p = Path.of(dir, "redis-server");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    String reason = "redis-server is not on the PATH: the Redis store test needs it";
    if ("true".equals(System.getenv("CI"))) {
      throw new IllegalStateException(reason);
    }
    System.err.println("SKIPPED: " + reason);
    Assumptions.abort(reason);
    return null;
  }

  private static void waitForPort(int port, Duration timeout) throws Exception {
    Await.until(() -> {
      try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
        return s.isConnected();
      } catch (IOException e) {
        return false;
      }
    }, timeout, "redis-server to listen on port " + port);
  }

}
