package dev.sluice.example.chat;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import org.junit.jupiter.api.Assumptions;

/**
 * The PostgreSQL the tests run on, once per JVM: {@code SLUICE_TEST_JDBC_URL} (environment or
 * system property) when set, else an embedded PostgreSQL. Every app a test starts shares it; the
 * schema is idempotent and every test makes its own users.
 */
final class TestDb {
  static final String ADMIN = "test-admin-token-0123456789";
  private static String url;
  private static String unavailable;

  private TestDb() {}

  static synchronized String url() {
    if (url == null && unavailable == null) {
      String external = System.getProperty("SLUICE_TEST_JDBC_URL",
          System.getenv("SLUICE_TEST_JDBC_URL"));
      if (external != null && !external.isBlank()) {
        url = external;
      } else {
        try {
          EmbeddedPostgres pg = EmbeddedPostgres.builder()
              .setServerConfig("fsync", "off")
              .setServerConfig("synchronous_commit", "off")
              .start();
          Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
              pg.close();
            } catch (IOException e) {
              System.err.println("embedded PostgreSQL did not stop: " + e);
            }
          }));
          url = pg.getJdbcUrl("postgres", "postgres");
        } catch (IOException | RuntimeException e) {
          unavailable = "embedded PostgreSQL could not be started (" + e + ")";
          if ("true".equals(System.getenv("CI"))) {
            throw new IllegalStateException(unavailable, e);
          }
          System.err.println("SKIPPING app tests: " + unavailable);
        }
      }
    }
    Assumptions.assumeTrue(url != null, () -> "SKIPPED: " + unavailable);
    return url;
  }

  /** Starts an app on an ephemeral loopback port with admin token TestDb.ADMIN, pro 7/day. */
  static ChatApp startApp() throws Exception {
    return ChatApp.start(config());
  }

  static AppConfig config() {
    return new AppConfig("127.0.0.1", 0, url(), null, null, null, 7, TestDb.ADMIN);
  }
}
