package dev.sluice.quota;

import dev.sluice.QuotaDecision;
import dev.sluice.QuotaGate;
import dev.sluice.QuotaStoreException;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;
import javax.sql.DataSource;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;
import org.jdbi.v3.core.argument.Argument;

/**
 * Per-subject, per-quota allowances in PostgreSQL, through the shipped SQL functions (see
 * {@link QuotaSchema}): atomic consume that never overshoots, calendar-window reset, idempotent
 * consume by request id, refund, batch status and reset, and the maintenance calls.
 *
 * <pre>{@code
 * QuotaSchema.migrate(dataSource);                      // once at start-up
 * AtomicQuotaRepository quotas = AtomicQuotaRepository.create(dataSource);
 *
 * QuotaDecision d = quotas.consume(userId, "chat", 1, requestId);
 * if (!d.allowed()) {
 *   return tooManyRequests(d.resetsAt());
 * }
 * try {
 *   return answer(question);
 * } catch (RuntimeException e) {
 *   quotas.refund(userId, "chat", requestId);           // the work failed: give the unit back
 *   throw e;
 * }
 * }</pre>
 *
 * <p>Each call is one round trip: one statement ({@code SELECT * FROM sluice.consume_quota(...)})
 * in its own auto-commit transaction on a connection borrowed from the data source. Concurrent
 * consumes from any number of threads, pools or application instances serialise on the counter
 * row in the database, so the limit is never exceeded.
 *
 * <p><b>Time.</b> By default the database server's clock decides the window, so every instance
 * shares one clock. {@link Builder#clock(Clock)} passes the time as the functions' last argument
 * instead (tests use a fixed clock to cross a window boundary without sleeping).
 *
 * <p><b>Failures.</b> A database failure throws {@link QuotaStoreException}, never a silent
 * allow; {@link QuotaStoreException#outcomeKnown()} is true only when nothing was applied (no
 * connection could be had, or the server reported an error and rolled the call back), and false
 * when the connection broke while the statement was in flight. A caller that retries an unknown
 * outcome with the same request id is charged at most once.
 *
 * <p>Thread-safe: an instance holds only immutable configuration.
 */
public final class AtomicQuotaRepository implements QuotaGate {
  private static final String CONSUME =
      "SELECT allowed, used, \"limit\", remaining, resets_at"
          + " FROM sluice.consume_quota(?, ?, ?, ?, ?)";
  private static final String REFUND = "SELECT sluice.refund_quota(?, ?, ?, ?)";
  private static final String STATUS =
      "SELECT subject, plan, used, \"limit\", remaining, resets_at"
          + " FROM sluice.quota_status(?, ?, ?)";
  private static final String RESET = "SELECT sluice.reset_expired_quota_windows(?)";
  private static final String LOAD =
      "SELECT metric, value, status, recommendation FROM sluice.check_system_load()";
  private static final String CLEANUP =
      "SELECT ledger_rows_deleted, quota_rows_deleted, rate_limit_keys_deleted"
          + " FROM sluice.cleanup_old_sessions(? * interval '1 microsecond')";
  private static final String EMERGENCY =
      "SELECT pid, usename, application_name, client_addr, idle_seconds, terminated"
          + " FROM sluice.emergency_cleanup_connections(? * interval '1 microsecond')";

  private final Jdbi jdbi;
  private final Clock clock;

  private AtomicQuotaRepository(Jdbi jdbi, Clock clock) {
    this.jdbi = jdbi;
    this.clock = clock;
  }

  /**
   * Creates a repository over a data source, using the database server's clock.
   *
   * @param dataSource where connections come from, such as a HikariCP pool
   * @return a new repository
   * @throws NullPointerException if {@code dataSource} is null
   */
  public static AtomicQuotaRepository create(DataSource dataSource) {
    return builder(dataSource).build();
  }

  /**
   * Starts a builder over a data source.
   *
   * @param dataSource where connections come from
   * @return a new builder
   * @throws NullPointerException if {@code dataSource} is null
   */
  public static Builder builder(DataSource dataSource) {
    return new Builder(Jdbi.create(Objects.requireNonNull(dataSource, "dataSource")));
  }

  /**
   * Starts a builder over an existing Jdbi instance (its data source and configuration are used).
   *
   * @param jdbi the Jdbi instance
   * @return a new builder
   * @throws NullPointerException if {@code jdbi} is null
   */
  public static Builder builder(Jdbi jdbi) {
    return new Builder(Objects.requireNonNull(jdbi, "jdbi"));
  }

  /**
   * Consumes one unit without a request id.
   *
   * @param subject who is charged, such as a user id
   * @param quota the quota's name, such as {@code "chat"}
   * @return the decision, never null
   * @throws IllegalArgumentException if an argument is blank, or the subject's plan does not
   *     define the quota
   * @throws QuotaStoreException if the database failed; it says whether the consume happened
   */
  public QuotaDecision consume(String subject, String quota) {
    return consume(subject, quota, 1, null);
  }

  /**
   * Consumes {@code amount} units if they are available in the current window, creating the
   * subject's account (on the default plan {@code free}) on first use. With a request id, the
   * same id consumes once and answers the same, however often and however concurrently it is
   * repeated.
   *
   * @param subject who is charged, such as a user id
   * @param quota the quota's name, such as {@code "chat"}
   * @param amount units to consume, &gt;= 1
   * @param requestId an idempotency key; null for none
   * @return the decision, never null
   * @throws IllegalArgumentException if an argument is invalid (blank subject, quota or request
   *     id, amount &lt; 1), or the subject's plan does not define the quota
   * @throws QuotaStoreException if the database failed; it says whether the consume happened
   */
  @Override
  public QuotaDecision consume(String subject, String quota, int amount, String requestId) {
    requireText(subject, "subject");
    requireText(quota, "quota");
    if (amount < 1) {
      throw new IllegalArgumentException("amount must be >= 1 but was " + amount);
    }
    if (requestId != null && requestId.isBlank()) {
      throw new IllegalArgumentException("requestId must be null or non-blank but was blank");
    }
    String what = "consume of '" + quota + "' for '" + subject + "'";
    try {
      // One row, five parameters, on every protected request: a plain statement on Jdbi's handle.
      // Jdbi's binding and mapping machinery cost several times the database call itself here
      // (~50 µs of CPU and ~12 KB per call; docs/benchmarks.md).
      return jdbi.withHandle(h -> {
        try (PreparedStatement ps = h.getConnection().prepareStatement(CONSUME)) {
          ps.setString(1, subject);
          ps.setString(2, quota);
          ps.setInt(3, amount);
          ps.setString(4, requestId);
          if (clock == null) {
            ps.setNull(5, Types.TIMESTAMP_WITH_TIMEZONE);
          } else {
            ps.setObject(5, OffsetDateTime.ofInstant(clock.instant(), ZoneOffset.UTC));
          }
          try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
              throw new SQLException("consume_quota returned no row");
            }
            return new QuotaDecision(rs.getBoolean(1), rs.getLong(2), rs.getLong(3),
                rs.getLong(4), instant(rs, 5), quota);
          }
        }
      });
    } catch (SQLException e) {
      // Failures reads the SQL state from the cause chain: unknown outcomes stay unknown.
      throw Failures.quota(what, new IllegalStateException(e.getMessage(), e));
    } catch (JdbiException e) {
      throw Failures.quota(what, e);
    }
  }

  /**
   * Gives back a consumption whose protected work failed. Idempotent; never refunds into a later
   * window; never makes the used count negative.
   *
   * @param subject who was charged
   * @param quota the quota's name
   * @param requestId the id the consumption was made with
   * @return whether this call gave units back (false when already refunded, unknown, refused in
   *     the first place, or the window has ended)
   * @throws IllegalArgumentException if {@code subject}, {@code quota} or {@code requestId} is
   *     blank
   * @throws QuotaStoreException if the database failed; it says whether the refund happened
   */
  @Override
  public boolean refund(String subject, String quota, String requestId) {
    requireText(subject, "subject");
    requireText(quota, "quota");
    requireText(requestId, "requestId");
    return call("refund of '" + quota + "' for '" + subject + "'", h -> h.createQuery(REFUND)
        .bind(0, subject)
        .bind(1, quota)
        .bind(2, requestId)
        .bind(3, now())
        .mapTo(Boolean.class)
        .one());
  }

  /**
   * Reads a subject's standing without consuming.
   *
   * @param subject the subject
   * @param quota the quota's name
   * @return the status, or empty when the subject's plan does not define the quota
   * @throws IllegalArgumentException if {@code subject} or {@code quota} is blank
   * @throws QuotaStoreException if the database failed
   */
  public Optional<QuotaStatus> status(String subject, String quota) {
    requireText(subject, "subject");
    List<QuotaStatus> all = status(List.of(subject), quota);
    return all.isEmpty() ? Optional.empty() : Optional.of(all.get(0));
  }

  /**
   * Reads the standing of many subjects for one quota in one round trip.
   *
   * @param subjects the subjects (a subject without an account is reported on plan
   *     {@code free} with nothing used)
   * @param quota the quota's name
   * @return one status per subject whose plan defines the quota, in the order given
   * @throws IllegalArgumentException if a subject or {@code quota} is blank
   * @throws NullPointerException if {@code subjects} is null
   * @throws QuotaStoreException if the database failed
   */
  public List<QuotaStatus> status(Collection<String> subjects, String quota) {
    Objects.requireNonNull(subjects, "subjects");
    requireText(quota, "quota");
    String[] array = subjects.toArray(new String[0]);
    for (String s : array) {
      requireText(s, "subject");
    }
    return call("status of '" + quota + "' for " + array.length + " subjects",
        h -> h.createQuery(STATUS)
            .bindArray(0, String.class, (Object[]) array)
            .bind(1, quota)
            .bind(2, now())
            .map((rs, ctx) -> new QuotaStatus(rs.getString(1), rs.getString(2), quota,
                rs.getLong(3), rs.getLong(4), rs.getLong(5), instant(rs, 6)))
            .list());
  }

  /**
   * Resets every counter whose window has ended (used back to zero, window moved to the current
   * one). Consumes reset lazily anyway; this keeps reports current.
   *
   * @return the number of counters reset
   * @throws QuotaStoreException if the database failed
   */
  public int resetExpiredWindows() {
    return call("reset of expired quota windows",
        h -> h.createQuery(RESET).bind(0, now()).mapTo(Integer.class).one());
  }

  /**
   * Calls {@code sluice.check_system_load()}.
   *
   * @return the figures with their status and recommendations
   * @throws QuotaStoreException if the database failed
   */
  public List<LoadMetric> checkSystemLoad() {
    return call("check_system_load", h -> h.createQuery(LOAD)
        .map((rs, ctx) -> new LoadMetric(rs.getString(1), rs.getDouble(2), rs.getString(3),
            Optional.ofNullable(rs.getString(4))))
        .list());
  }

  /**
   * Calls {@code sluice.cleanup_old_sessions(retention)}: deletes ledger rows older than the
   * retention from ended windows, counters idle for longer than the retention, and rate-limit
   * keys whose bucket is full again. Keep the retention longer than any client retries a request.
   *
   * @param retention how long to keep history, &gt;= 0
   * @return what was deleted
   * @throws IllegalArgumentException if {@code retention} is null or negative
   * @throws QuotaStoreException if the database failed
   */
  public CleanupResult cleanupOldSessions(Duration retention) {
    long micros = micros(retention, "retention");
    return call("cleanup_old_sessions", h -> h.createQuery(CLEANUP)
        .bind(0, micros)
        .map((rs, ctx) -> new CleanupResult(rs.getLong(1), rs.getLong(2), rs.getLong(3)))
        .one());
  }

  /**
   * Calls {@code sluice.emergency_cleanup_connections(idle_for)}: ends the backends of the current
   * database that belong to the calling role and have sat idle in a transaction for longer than
   * {@code idleFor} — never the caller's own backend, never a superuser's.
   *
   * @param idleFor how long a session must have been idle in its transaction, &gt;= 0
   * @return the sessions ended
   * @throws IllegalArgumentException if {@code idleFor} is null or negative
   * @throws QuotaStoreException if the database failed
   */
  public List<EndedSession> emergencyCleanupConnections(Duration idleFor) {
    long micros = micros(idleFor, "idleFor");
    return call("emergency_cleanup_connections", h -> h.createQuery(EMERGENCY)
        .bind(0, micros)
        .map((rs, ctx) -> new EndedSession(rs.getInt(1), rs.getString(2),
            Objects.toString(rs.getString(3), ""), Objects.toString(rs.getString(4), ""),
            Duration.ofNanos(Math.round(rs.getDouble(5) * 1e9)), rs.getBoolean(6)))
        .list());
  }

  @Override
  public String toString() {
    return "AtomicQuotaRepository[clock=" + (clock == null ? "database" : clock) + "]";
  }

  private <T> T call(String what, Function<Handle, T> work) {
    try {
      return jdbi.withHandle(work::apply);
    } catch (JdbiException e) {
      throw Failures.quota(what, e);
    }
  }

  /** The time to pass to the functions: null lets the server's clock decide. */
  private Argument now() {
    if (clock == null) {
      return (position, statement, ctx) ->
          statement.setNull(position, Types.TIMESTAMP_WITH_TIMEZONE);
    }
    OffsetDateTime at = OffsetDateTime.ofInstant(clock.instant(), ZoneOffset.UTC);
    return (position, statement, ctx) -> statement.setObject(position, at);
  }

  private static Instant instant(ResultSet rs, int column) throws SQLException {
    OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
    return value == null ? Instant.EPOCH : value.toInstant();
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

  static void requireText(String value, String name) {
    if (value == null || value.isBlank()) {
      throw new IllegalArgumentException(
          name + " must be non-blank but was " + (value == null ? "null" : "'" + value + "'"));
    }
  }

  /**
   * Builds {@link AtomicQuotaRepository} instances.
   *
   * <p>Not thread-safe.
   */
  public static final class Builder {
    private final Jdbi jdbi;
    private Clock clock;

    Builder(Jdbi jdbi) {
      this.jdbi = jdbi;
    }

    /**
     * Decides windows with this clock instead of the database server's: its time is passed as
     * the last argument of every function. Use it in tests; in production the server clock keeps
     * all instances on one time.
     *
     * @param clock the clock, or null for the server's
     * @return this builder
     */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /**
     * Builds the repository.
     *
     * @return a new repository
     */
    public AtomicQuotaRepository build() {
      return new AtomicQuotaRepository(jdbi, clock);
    }
  }
}
