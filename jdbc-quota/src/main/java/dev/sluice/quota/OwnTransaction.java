package dev.sluice.quota;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Objects;
import javax.sql.DataSource;
import org.jdbi.v3.core.ConnectionException;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;

/**
 * Where the quota classes borrow a connection for one call: a connection of its own, in a
 * transaction of its own, committed before the connection goes back.
 *
 * <p>A pool that hands out connections with auto-commit off (HikariCP's {@code autoCommit=false},
 * a setting often recommended with Hibernate) would otherwise get every consume, refund and
 * rate-limit step rolled back when the connection is returned: the call answers, and nothing is
 * counted. So when the borrowed connection is not in auto-commit mode, the call commits it after
 * its work, and rolls it back when the work failed. A call never joins a transaction the
 * application has open: over a {@link DataSource} it borrows its own connection; over a
 * {@link Jdbi} it opens its own handle ({@link Jdbi#open()}, not a handle the thread already has).
 *
 * <p>Over a data source no Jdbi handle is made (a handle copies the Jdbi's configuration when it
 * opens); against a database round trip that copy was not measurable (docs/benchmarks.md, "The
 * repository's own cost"), but it is allocation on every call for nothing.
 *
 * <p>Failing to borrow a connection is reported as Jdbi's {@link ConnectionException}, which
 * {@link Failures} reads as "nothing was sent". Thread-safe.
 */
final class OwnTransaction {
  /** The work of one call on its borrowed connection. */
  @FunctionalInterface
  interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  private final DataSource dataSource;
  private final Jdbi jdbi;

  private OwnTransaction(DataSource dataSource, Jdbi jdbi) {
    this.dataSource = dataSource;
    this.jdbi = jdbi;
  }

  static OwnTransaction over(DataSource dataSource) {
    return new OwnTransaction(Objects.requireNonNull(dataSource, "dataSource"), null);
  }

  static OwnTransaction over(Jdbi jdbi) {
    return new OwnTransaction(null, Objects.requireNonNull(jdbi, "jdbi"));
  }

  /**
   * Runs the work on a borrowed connection and returns it.
   *
   * @throws ConnectionException if no connection could be borrowed (nothing was sent)
   * @throws SQLException if the work, its commit or returning the connection failed
   */
  <T> T run(Work<T> work) throws SQLException {
    if (dataSource == null) {
      try (Handle h = jdbi.open()) {
        return runOn(h.getConnection(), work);
      }
    }
    Connection c;
    try {
      c = dataSource.getConnection();
    } catch (SQLException e) {
      throw new ConnectionException(e);
    }
    try (c) {
      return runOn(c, work);
    }
  }

  /**
   * Runs the work as {@link #run} does, turning every failure into a
   * {@link dev.sluice.QuotaStoreException} that names the call ({@link Failures#quota}).
   */
  <T> T call(String what, Work<T> work) {
    try {
      return run(work);
    } catch (SQLException e) {
      // Failures reads the SQL state from the cause chain: unknown outcomes stay unknown.
      throw Failures.quota(what, new IllegalStateException(e.getMessage(), e));
    } catch (JdbiException e) {
      throw Failures.quota(what, e);
    }
  }

  private static <T> T runOn(Connection c, Work<T> work) throws SQLException {
    if (c.getAutoCommit()) {
      return work.run(c);
    }
    T result;
    try {
      result = work.run(c);
    } catch (SQLException | RuntimeException | Error e) {
      try {
        c.rollback();
      } catch (SQLException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    c.commit();
    return result;
  }

  @Override
  public String toString() {
    return "OwnTransaction[" + (dataSource != null ? dataSource : jdbi) + "]";
  }
}
