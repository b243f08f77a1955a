package dev.sluice.testing;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.Objects;
import java.util.Properties;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import javax.sql.DataSource;

/**
 * One database on a {@link TestPostgres} server, made by {@link TestPostgres#createDatabase()};
 * closing it drops it. Thread-safe.
 */
public final class TestDatabase implements AutoCloseable {
  private final String name;
  private final String url;
  private final Runnable drop;
  private boolean closed;

  TestDatabase(String name, String url, Runnable drop) {
    this.name = name;
    this.url = url;
    this.drop = drop;
  }

  /**
   * The database's name.
   *
   * @return the name
   */
  public String name() {
    return name;
  }

  /**
   * A JDBC URL of this database with the server's credentials, for a pool or a framework.
   *
   * @return the URL
   */
  public String url() {
    return url;
  }

  /**
   * A data source opening a new, unpooled connection on each call, as the server's user (or,
   * through {@code getConnection(user, password)}, as another).
   *
   * @return the data source
   */
  public DataSource dataSource() {
    return new UrlDataSource(url);
  }

  /**
   * Opens a connection as the server's user.
   *
   * @return a new connection; close it
   * @throws SQLException if the server refuses
   */
  public Connection connect() throws SQLException {
    return DriverManager.getConnection(url);
  }

  /**
   * Runs statements in order, on one connection, in autocommit mode.
   *
   * @param sql the statements
   * @throws IllegalStateException naming the statement the server refused, with its message
   */
  public void execute(String... sql) {
    try (Connection c = connect(); Statement s = c.createStatement()) {
      for (String statement : sql) {
        try {
          s.execute(statement);
        } catch (SQLException e) {
          throw new IllegalStateException(statement + ": " + e.getMessage(), e);
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException("could not connect to " + name + ": " + e.getMessage(), e);
    }
  }

  /**
   * Drops the database (with {@code WITH (FORCE)}, ending open connections). Closing again does
   * nothing.
   *
   * @throws IllegalStateException if the server refused to drop it
   */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    drop.run();
  }

  @Override
  public String toString() {
    return "TestDatabase[" + name + "]";
  }

  private static final class UrlDataSource implements DataSource {
    private final String url;
    private volatile PrintWriter logWriter;
    private volatile int loginTimeout;

    UrlDataSource(String url) {
      this.url = url;
    }

    @Override
    public Connection getConnection() throws SQLException {
      return DriverManager.getConnection(url);
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
      Properties props = new Properties();
      props.setProperty("user", Objects.requireNonNull(user, "user"));
      if (password != null) {
        props.setProperty("password", password);
      }
      return DriverManager.getConnection(withoutCredentials(url), props);
    }

    /** pgjdbc lets the URL's parameters win over the given properties, so drop the URL's. */
    private static String withoutCredentials(String url) {
      int q = url.indexOf('?');
      if (q < 0) {
        return url;
      }
      String kept = Arrays.stream(url.substring(q + 1).split("&"))
          .filter(p -> !p.startsWith("user=") && !p.startsWith("password="))
          .collect(Collectors.joining("&"));
      return url.substring(0, q) + (kept.isEmpty() ? "" : "?" + kept);
    }

    @Override
    public PrintWriter getLogWriter() {
      return logWriter;
    }

    @Override
    public void setLogWriter(PrintWriter out) {
      logWriter = out;
    }

    @Override
    public void setLoginTimeout(int seconds) {
      loginTimeout = seconds;
    }

    @Override
    public int getLoginTimeout() {
      return loginTimeout;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      throw new SQLFeatureNotSupportedException("no java.util.logging here");
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
      if (type.isInstance(this)) {
        return type.cast(this);
      }
      throw new SQLException("not a wrapper of " + type.getName());
    }

    @Override
    public boolean isWrapperFor(Class<?> type) {
      return type.isInstance(this);
    }
  }
}
