package dev.sluice.quota;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.testing.TestDatabase;
import dev.sluice.testing.TestPostgres;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;

/**
 * This module's tests' database: one fresh database per JVM on {@link TestPostgres#shared()} (an
 * external server from {@code SLUICE_TEST_JDBC_URL}, else embedded PostgreSQL), with the shipped
 * schema migrated, plus the few helpers these tests share. A thin adapter over sluice-testing: it
 * adds only what that module has no equivalent for.
 *
 * <ul>
 *   <li>{@code SLUICE_TEST_POSTGRES=testcontainers} (environment or system property): a
 *       Testcontainers PostgreSQL 15 ({@code -Dsluice.test.image} to change), handed to
 *       sluice-testing as its {@code SLUICE_TEST_JDBC_URL}; it needs a Docker engine.
 *   <li>No server at all: the tests are skipped with the reason on the console, or fail when
 *       {@code CI=true}.
 *   <li>Connections as another role, pools and one-value queries.
 * </ul>
 */
final class QuotaDatabase {
  private static QuotaDatabase instance;
  private static String unavailable;

  private final TestPostgres server;
  private final TestDatabase database;

  private QuotaDatabase(TestPostgres server, TestDatabase database) {
    this.server = server;
    this.database = database;
  }

  /** The database of this run, with the schema migrated; skips the calling test if there is none. */
  static synchronized QuotaDatabase get() {
    if (instance == null && unavailable == null) {
      try {
        instance = start();
      } catch (RuntimeException e) {
        unavailable = "PostgreSQL for tests could not be started (" + e.getMessage() + ")";
        if ("true".equals(System.getenv("CI"))) {
          throw new IllegalStateException(unavailable, e);
        }
      }
      if (unavailable != null) {
        System.err.println("SKIPPING database tests: " + unavailable);
      }
    }
    Assumptions.assumeTrue(instance != null, () -> "SKIPPED: " + unavailable);
    return instance;
  }

  private static QuotaDatabase start() {
    if ("testcontainers".equalsIgnoreCase(setting("SLUICE_TEST_POSTGRES"))
        && setting(TestPostgres.JDBC_URL_SETTING) == null) {
      if (!DockerClientFactory.instance().isDockerAvailable()) {
        throw new IllegalStateException("SLUICE_TEST_POSTGRES=testcontainers needs a Docker"
            + " engine and none was found; unset it to use embedded PostgreSQL, or set "
            + TestPostgres.JDBC_URL_SETTING);
      }
      String image = System.getProperty("sluice.test.image", "postgres:15-alpine");
      PostgreSQLContainer container = new PostgreSQLContainer(image);
      container.start();
      Runtime.getRuntime().addShutdownHook(new Thread(container::stop));
      String url = container.getJdbcUrl();
      url += (url.contains("?") ? "&" : "?") + "user=" + container.getUsername() + "&password="
          + container.getPassword();
      System.setProperty(TestPostgres.JDBC_URL_SETTING, url);
    }
    TestPostgres server = TestPostgres.shared();
    TestDatabase database = server.createDatabase();
    Runtime.getRuntime().addShutdownHook(new Thread(database::close));
    QuotaSchema.migrate(database.dataSource());
    System.err.println("Sluice database tests run on " + server.description() + ", database "
        + database.name());
    return new QuotaDatabase(server, database);
  }

  private static String setting(String name) {
    String value = System.getProperty(name);
    value = value != null && !value.isBlank() ? value : System.getenv(name);
    return value == null || value.isBlank() ? null : value;
  }

  /** A fresh, empty database on the same server (no schema), dropped when the JVM exits. */
  String freshDatabaseUrl() {
    TestDatabase fresh = server.createDatabase();
    Runtime.getRuntime().addShutdownHook(new Thread(fresh::close));
    return fresh.url();
  }

  /** The JDBC URL of this run's database, with the server's credentials. */
  String url() {
    return database.url();
  }

  /** A non-pooled data source on this run's database as the configured (super)user. */
  DataSource dataSource() {
    return database.dataSource();
  }

  /** A non-pooled data source on this run's database as another user (trust authentication). */
  DataSource dataSource(String user) {
    return new UrlDataSource(database.url(), user);
  }

  /** A non-pooled data source on any URL, as its user or as {@code user} when not null. */
  static DataSource dataSource(String url, String user) {
    return new UrlDataSource(url, user);
  }

  /** A HikariCP pool on this run's database. */
  HikariDataSource pool(String name, int size) {
    HikariConfig config = new HikariConfig();
    config.setPoolName(name);
    config.setJdbcUrl(database.url());
    config.setMaximumPoolSize(size);
    config.setMinimumIdle(size);
    config.setConnectionTimeout(10_000);
    return new HikariDataSource(config);
  }

  /** A name no other test, pass or run uses. */
  static String unique(String prefix) {
    return prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10)
        .toLowerCase(Locale.ROOT);
  }

  /** Runs SQL as the configured (super)user on this run's database. */
  void execute(String sql) {
    database.execute(sql);
  }

  /** Runs SQL as the configured (super)user, letting the database's error through. */
  void executeOrThrow(String sql) throws SQLException {
    try (Connection c = database.connect();
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  /** Runs a query returning one text (or null) as the configured (super)user. */
  String queryText(String sql) {
    try (Connection c = database.connect();
        Statement s = c.createStatement();
        var rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }

  /** Runs a query returning one long as the configured (super)user. */
  long queryLong(String sql) {
    try (Connection c = database.connect();
        Statement s = c.createStatement();
        var rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }
}
