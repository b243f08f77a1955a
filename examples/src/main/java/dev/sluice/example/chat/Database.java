package dev.sluice.example.chat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;

/**
 * The app's PostgreSQL: an embedded server started from the jar (the default), or a real one
 * named by a JDBC URL; either way behind a HikariCP pool, with the app's own schema
 * ({@code chat_app}) created at start.
 *
 * <p>Thread-safe; close it once, after the web server stopped.
 */
final class Database implements AutoCloseable {
  private final EmbeddedPostgres embedded;
  private final HikariDataSource pool;
  private final String description;

  private Database(EmbeddedPostgres embedded, HikariDataSource pool, String description) {
    this.embedded = embedded;
    this.pool = pool;
    this.description = description;
  }

  /**
   * Starts (or connects to) the database and creates the app's tables.
   *
   * @param config the settings: {@code dbUrl} null for embedded PostgreSQL
   * @return the database
   * @throws IllegalStateException if it cannot be started or reached
   */
  static Database open(AppConfig config) {
    EmbeddedPostgres embedded = null;
    String url = config.dbUrl();
    String user = config.dbUser();
    String password = config.dbPassword();
    String description;
    if (url == null) {
      try {
        // As root, zonky runs initdb and postgres under "unshare -U" (PostgreSQL refuses root).
        embedded = EmbeddedPostgres.builder()
            .setServerConfig("max_connections", "100")
            .start();
      } catch (IOException | RuntimeException e) {
        throw new IllegalStateException("embedded PostgreSQL could not be started (" + e
            + "); set SLUICE_DB_URL to use a running server", e);
      }
      url = embedded.getJdbcUrl("postgres", "postgres");
      user = null;
      description = "embedded PostgreSQL on port " + embedded.getPort() + " (data is discarded at exit)";
    } else {
      description = "PostgreSQL at " + url.replaceAll("password=[^&]*", "password=***");
    }
    HikariConfig hc = new HikariConfig();
    hc.setPoolName("chat-db");
    hc.setJdbcUrl(url);
    if (user != null) {
      hc.setUsername(user);
    }
    if (password != null) {
      hc.setPassword(password);
    }
    // The queue admits at most 20 requests at once; each holds a connection only briefly.
    hc.setMaximumPoolSize(10);
    hc.setMinimumIdle(2);
    hc.setConnectionTimeout(5_000);
    HikariDataSource pool;
    try {
      pool = new HikariDataSource(hc);
    } catch (RuntimeException e) {
      closeQuietly(embedded);
      throw new IllegalStateException("cannot connect to " + description + ": " + e.getMessage(), e);
    }
    Database db = new Database(embedded, pool, description);
    try {
      db.createAppSchema();
    } catch (SQLException e) {
      db.close();
      throw new IllegalStateException("cannot create the app's tables: " + e.getMessage(), e);
    }
    return db;
  }

  private void createAppSchema() throws SQLException {
    try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE SCHEMA IF NOT EXISTS chat_app");
      // Only a SHA-256 of each token is kept: a leaked table does not leak sessions.
      s.execute("CREATE TABLE IF NOT EXISTS chat_app.sessions ("
          + " token_sha256 bytea PRIMARY KEY,"
          + " user_id text NOT NULL,"
          + " plan text NOT NULL,"
          + " created_at timestamptz NOT NULL DEFAULT now(),"
          + " expires_at timestamptz NOT NULL)");
      s.execute("CREATE TABLE IF NOT EXISTS chat_app.messages ("
          + " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
          + " user_id text NOT NULL,"
          + " kind text NOT NULL,"
          + " question text NOT NULL,"
          + " answer text NOT NULL,"
          + " sources text NOT NULL,"
          + " created_at timestamptz NOT NULL DEFAULT now())");
      s.execute("CREATE INDEX IF NOT EXISTS messages_user_ix ON chat_app.messages (user_id, id)");
    }
  }

  /**
   * The pool.
   *
   * @return the pooled data source
   */
  DataSource dataSource() {
    return pool;
  }

  /**
   * What the app runs on, for the startup line.
   *
   * @return a description without passwords
   */
  String description() {
    return description;
  }

  @Override
  public void close() {
    pool.close();
    closeQuietly(embedded);
  }

  private static void closeQuietly(EmbeddedPostgres embedded) {
    if (embedded != null) {
      try {
        embedded.close();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
