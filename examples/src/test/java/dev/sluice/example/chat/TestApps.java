package dev.sluice.example.chat;

import dev.sluice.testing.TestDatabase;
import dev.sluice.testing.TestPostgres;
import org.junit.jupiter.api.Assumptions;

/**
 * The app's test fixtures over sluice-testing's {@link TestPostgres}: a fresh database per test
 * class (embedded PostgreSQL, or {@code SLUICE_TEST_JDBC_URL}), and the settings of an app on it.
 *
 * <p>The one thing added to {@link TestPostgres}: when no PostgreSQL can be had, the calling test
 * is skipped with the reason printed (as the README promises), and fails under {@code CI=true};
 * {@link TestPostgres#shared()} itself throws.
 */
final class TestApps {
  static final String ADMIN = "test-admin-token-0123456789";

  private TestApps() {}

  /**
   * A fresh, empty database; close it (it is dropped) when the test class is done.
   *
   * @return the database
   */
  static TestDatabase database() {
    TestPostgres server;
    try {
      server = TestPostgres.shared();
    } catch (IllegalStateException e) {
      if ("true".equals(System.getenv("CI"))) {
        throw e;
      }
      System.err.println("SKIPPING app tests: " + e.getMessage());
      Assumptions.abort("SKIPPED: " + e.getMessage());
      throw e; // not reached: abort throws
    }
    return server.createDatabase();
  }

  /**
   * An app on an ephemeral loopback port, admin token {@link #ADMIN}, pro plan 7 chats a day,
   * per-IP limits in memory.
   *
   * @param db the database
   * @return the settings
   */
  static AppConfig config(TestDatabase db) {
    return new AppConfig("127.0.0.1", 0, db.url(), null, null, null, 7, ADMIN,
        AppConfig.LimitStore.MEMORY);
  }

  /**
   * Starts an app with {@link #config(TestDatabase)}.
   *
   * @param db the database
   * @return the running app
   * @throws Exception if it cannot start
   */
  static ChatApp startApp(TestDatabase db) throws Exception {
    return ChatApp.start(config(db));
  }
}
