package dev.sluice.quota;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.Properties;
import java.util.logging.Logger;
import javax.sql.DataSource;

/** A non-pooled data source over DriverManager: a fresh connection per call. Thread-safe. */
final class UrlDataSource implements DataSource {
  private final String url;
  private final String user;

  /**
   * Creates the data source.
   *
   * @param url a JDBC URL
   * @param user a user to connect as instead of the URL's (whose parameters would win), or null
   */
  UrlDataSource(String url, String user) {
    this.url = user == null ? url : withoutCredentials(url);
    this.user = user;
  }

  private static String withoutCredentials(String url) {
    int q = url.indexOf('?');
    if (q < 0) {
      return url;
    }
    StringBuilder kept = new StringBuilder();
    for (String param : url.substring(q + 1).split("&")) {
      if (!param.startsWith("user=") && !param.startsWith("password=") && !param.isEmpty()) {
        kept.append(kept.length() == 0 ? "?" : "&").append(param);
      }
    }
    return url.substring(0, q) + kept;
  }

  @Override
  public Connection getConnection() throws SQLException {
    Properties props = new Properties();
    if (user != null) {
      props.setProperty("user", user);
      props.setProperty("password", user); // test roles use their name as password
    }
    return DriverManager.getConnection(url, props);
  }

  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", username);
    props.setProperty("password", password);
    return DriverManager.getConnection(url, props);
  }

  @Override
  public PrintWriter getLogWriter() {
    return null;
  }

  @Override
  public void setLogWriter(PrintWriter out) {}

  @Override
  public void setLoginTimeout(int seconds) {}

  @Override
  public int getLoginTimeout() {
    return 0;
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException();
  }

  @Override
  public <T> T unwrap(Class<T> iface) throws SQLException {
    throw new SQLException("not a wrapper");
  }

  @Override
  public boolean isWrapperFor(Class<?> iface) {
    return false;
  }
}
