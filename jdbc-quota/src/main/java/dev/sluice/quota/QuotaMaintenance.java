package dev.sluice.quota;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;
import org.jdbi.v3.core.Jdbi;

/**
 * The original system's maintenance calls on the shipped SQL functions:
 * {@code sluice.check_system_load()} (hourly), {@code sluice.cleanup_old_sessions(retention)}
 * (daily) and {@code sluice.emergency_cleanup_connections(idle_for)} (in an emergency).
 *
 * <pre>{@code
 * QuotaMaintenance ops = QuotaMaintenance.create(opsDataSource);
 * ops.checkSystemLoad().stream().filter(m -> !m.ok()).forEach(m -> log.warn("{}", m));
 * ops.cleanupOldSessions(Duration.ofDays(7));
 * }</pre>
 *
 * <p>Give it a data source of an operations role, not the application's: the functions are
 * granted separately (see {@code V4__sluice_maintenance.sql}), and
 * {@code emergency_cleanup_connections} only ends sessions of the role that calls it.
 *
 * <p>Every database failure throws {@link dev.sluice.QuotaStoreException}.
 *
 * <p>Thread-safe: an instance holds only immutable configuration.
 */
public final class QuotaMaintenance {
  private static final String LOAD =
      "SELECT metric, value, status, recommendation FROM sluice.check_system_load()";
  private static final String CLEANUP =
      "SELECT ledger_rows_deleted, quota_rows_deleted, rate_limit_keys_deleted"
          + " FROM sluice.cleanup_old_sessions(? * interval '1 microsecond')";
  private static final String EMERGENCY =
      "SELECT pid, usename, application_name, client_addr, idle_seconds, terminated"
          + " FROM sluice.emergency_cleanup_connections(? * interval '1 microsecond')";
  private static final String EMERGENCY_DEFAULT =
      "SELECT pid, usename, application_name, client_addr, idle_seconds, terminated"
          + " FROM sluice.emergency_cleanup_connections()";

  private final OwnTransaction tx;

  private QuotaMaintenance(OwnTransaction tx) {
    this.tx = tx;
  }

  /**
   * Creates the maintenance calls over a data source.
   *
   * @param dataSource where connections come from, ideally an operations role's
   * @return a new instance
   * @throws NullPointerException if {@code dataSource} is null
   */
  public static QuotaMaintenance create(DataSource dataSource) {
    return new QuotaMaintenance(OwnTransaction.over(dataSource));
  }

  /**
   * Creates the maintenance calls over an existing Jdbi instance.
   *
   * @param jdbi the Jdbi instance
   * @return a new instance
   * @throws NullPointerException if {@code jdbi} is null
   */
  public static QuotaMaintenance create(Jdbi jdbi) {
    return new QuotaMaintenance(OwnTransaction.over(jdbi));
  }

  /**
   * Calls {@code sluice.check_system_load()}.
   *
   * @return the figures with their status and recommendations
   * @throws dev.sluice.QuotaStoreException if the database failed
   */
  public List<LoadMetric> checkSystemLoad() {
    return call("check_system_load", LOAD, ps -> { }, rs -> new LoadMetric(rs.getString(1),
        rs.getDouble(2), rs.getString(3), Optional.ofNullable(rs.getString(4))));
  }

  /**
   * Calls {@code sluice.cleanup_old_sessions(retention)}: deletes ledger rows older than the
   * retention from ended windows, counters idle for longer than the retention, and rate-limit
   * keys whose bucket is full again; also (not counted in the result) a counter's kept earlier
   * windows that ended more than the retention, and at least 32 days, ago. Keep the retention
   * longer than any client retries a request.
   *
   * @param retention how long to keep history, &gt;= 0
   * @return what was deleted
   * @throws IllegalArgumentException if {@code retention} is null or negative
   * @throws dev.sluice.QuotaStoreException if the database failed
   */
  public CleanupResult cleanupOldSessions(Duration retention) {
    long micros = micros(retention, "retention");
    return call("cleanup_old_sessions", CLEANUP, ps -> ps.setLong(1, micros),
        rs -> new CleanupResult(rs.getLong(1), rs.getLong(2), rs.getLong(3))).get(0);
  }

  /**
   * Calls {@code sluice.emergency_cleanup_connections()}: as
   * {@link #emergencyCleanupConnections(Duration)} with the function's default threshold of five
   * minutes idle in a transaction (where {@code check_system_load} calls such a session critical).
   *
   * @return the sessions ended
   * @throws dev.sluice.QuotaStoreException if the database failed
   */
  public List<EndedSession> emergencyCleanupConnections() {
    return call("emergency_cleanup_connections", EMERGENCY_DEFAULT, ps -> { },
        QuotaMaintenance::endedSession);
  }

  /**
   * Calls {@code sluice.emergency_cleanup_connections(idle_for)}: ends the backends of the current
   * database that belong to the calling role and have sat idle in a transaction for longer than
   * {@code idleFor} — never the caller's own backend, never a superuser's.
   *
   * @param idleFor how long a session must have been idle in its transaction, &gt;= 0
   * @return the sessions ended
   * @throws IllegalArgumentException if {@code idleFor} is null or negative
   * @throws dev.sluice.QuotaStoreException if the database failed
   */
  public List<EndedSession> emergencyCleanupConnections(Duration idleFor) {
    long micros = micros(idleFor, "idleFor");
    return call("emergency_cleanup_connections", EMERGENCY, ps -> ps.setLong(1, micros),
        QuotaMaintenance::endedSession);
  }

  @Override
  public String toString() {
    return "QuotaMaintenance";
  }

  private static EndedSession endedSession(ResultSet rs) throws SQLException {
    return new EndedSession(rs.getInt(1), rs.getString(2),
        Objects.toString(rs.getString(3), ""), Objects.toString(rs.getString(4), ""),
        Duration.ofNanos(Math.round(rs.getDouble(5) * 1e9)), rs.getBoolean(6));
  }

  /** Binds a statement's parameters. */
  @FunctionalInterface
  private interface Binder {
    void bind(PreparedStatement ps) throws SQLException;
  }

  /** Reads one row. */
  @FunctionalInterface
  private interface Row<T> {
    T read(ResultSet rs) throws SQLException;
  }

  /** Runs one function in a transaction of its own (see {@link OwnTransaction}): all its rows. */
  private <T> List<T> call(String what, String sql, Binder binder, Row<T> row) {
    return tx.call(what, c -> {
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        binder.bind(ps);
        List<T> rows = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            rows.add(row.read(rs));
          }
        }
        return List.copyOf(rows);
      }
    });
  }

  private static long micros(Duration d, String name) {
    if (d == null || d.isNegative()) {
      throw new IllegalArgumentException(name + " must be >= 0 but was " + d);
    }
    try {
      return Math.addExact(Math.multiplyExact(d.getSeconds(), 1_000_000L), d.getNano() / 1000);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(name + " is too long: " + d, e);
    }
  }
}
