package dev.sluice.quota;

import dev.sluice.QuotaDecision;
import dev.sluice.QuotaEvents;
import dev.sluice.QuotaGate;
import dev.sluice.QuotaListener;
import dev.sluice.QuotaStoreException;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.jdbi.v3.core.Jdbi;

/**
 * Per-subject, per-quota allowances in PostgreSQL, through the shipped SQL functions (see
 * {@link QuotaSchema}): atomic consume that never overshoots, calendar-window reset, idempotent
 * consume by request id, refund, batch consume, batch status and reset. The maintenance calls
 * are {@link QuotaMaintenance}.
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
 * in a transaction of its own on a connection of its own, borrowed from the data source (or
 * opened with {@link Jdbi#open()}), never one the application has open: a connection handed out
 * with auto-commit off (HikariCP's {@code autoCommit=false}) is committed after the call, and
 * rolled back when the call failed, so nothing counted is lost when it goes back to the pool.
 * Concurrent consumes from any number of threads, pools or application instances serialise on
 * the counter row in the database, so the limit is never exceeded. Inside the database, a
 * consume whose counter is already in the current window is a single guarded single-row statement
 * (the counter row caches its limit, labelled with a configuration version that triggers on the
 * plan tables keep honest, so a plan change applies from the next consume); first use, a window
 * to move, a changed plan or a repeated request id take a longer path in the same call. A
 * consume with a request id also writes its ledger row (answers for retries, refunds, an audit
 * trail); one without is counted in the counter only. {@link #consumeAll} decides many requests
 * in one round trip.
 *
 * <p><b>Windows.</b> A counter always belongs to the window that the subject's current plan and
 * the current time give: the span during which the plan's time zone shows the same hour, day, ISO
 * week or month. Windows are contiguous and never overlap, across daylight-saving changes too (a
 * day may have 23 or 25 hours; at a fall-back the repeated hour belongs to the hour it repeats).
 * When an operator changes a plan's window unit (or zone) mid-window, the new current window
 * {@code [T, E)} carries from each of the counter's windows {@code [S, F)} (the stored one and the
 * earlier ones the database keeps when a counter moves on): nothing if it ended by {@code T};
 * everything it counted if it began at or after {@code T} (exact); nothing if it began earlier
 * and counted nothing since {@code T} (exact); everything it counted if it holds units on both
 * sides of {@code T}. That last case may count usage from before {@code T}, never more than was
 * really used, and never lets the new window grant more than its allowance.
 *
 * <p><b>Time.</b> The database server's clock decides the window, so every instance shares one
 * clock, and the functions an application role is granted take no time argument: it cannot charge
 * a future window. {@link Builder#clock(Clock)} is for tests: it calls the functions' {@code _at}
 * twins, which take the time as their last argument and which only the schema owner may run.
 *
 * <p><b>Failures.</b> Invalid arguments (blank names, amount &lt; 1, a subject over 1024 bytes in
 * UTF-8, a quota name over 128, a request id over 512: longer ones do not fit a PostgreSQL index
 * entry) throw {@link IllegalArgumentException} before any database call. Everything that fails in the
 * database throws {@link QuotaStoreException}, never a silent allow, so a caller can apply one
 * fail-open or fail-closed choice to every quota failure:
 * {@link QuotaConfigurationException}, a subtype, when the subject's plan does not define the
 * quota or the plan's time zone is unknown (an operator's mistake; nothing was applied), and the
 * base type for everything else. {@link QuotaStoreException#outcomeKnown()} is true only when
 * nothing was applied (no connection could be had, or the server reported an error and rolled
 * the call back), and false when the connection broke while the statement was in flight. A caller
 * that retries an unknown outcome with the same request id is charged at most once. Messages name
 * the call, the subject and the quota, for the log; they are not meant for end users.
 *
 * <p><b>Events.</b> {@link #addListener(QuotaListener)} reports each consume (granted or refused),
 * each refund that gave units back, and each store failure, on the calling thread after the
 * database answered; see {@link QuotaListener}. A dry-run {@link #check} reports nothing.
 *
 * <p>Thread-safe: an instance holds immutable configuration and a copy-on-write list of
 * listeners.
 */
public final class AtomicQuotaRepository implements QuotaGate, QuotaEvents {
  // Two forms of each call: on the database clock (what applications are granted), and with the
  // time as the last argument (the "_at" twins, for tests; see Builder.clock).
  private static final String CONSUME =
      "SELECT allowed, used, \"limit\", remaining, resets_at FROM sluice.consume_quota(?, ?, ?, ?)";
  private static final String CONSUME_AT =
      "SELECT allowed, used, \"limit\", remaining, resets_at"
          + " FROM sluice.consume_quota_at(?, ?, ?, ?, ?)";
  private static final String CHECK =
      "SELECT allowed, used, \"limit\", remaining, resets_at FROM sluice.check_quota(?, ?, ?)";
  private static final String CHECK_AT =
      "SELECT allowed, used, \"limit\", remaining, resets_at"
          + " FROM sluice.check_quota_at(?, ?, ?, ?)";
  private static final String REFUND = "SELECT sluice.refund_quota(?, ?, ?)";
  private static final String REFUND_AT = "SELECT sluice.refund_quota_at(?, ?, ?, ?)";
  private static final String STATUS =
      "SELECT subject, plan, used, \"limit\", remaining, resets_at FROM sluice.quota_status(?, ?)";
  private static final String STATUS_AT =
      "SELECT subject, plan, used, \"limit\", remaining, resets_at"
          + " FROM sluice.quota_status_at(?, ?, ?)";
  private static final String RESET = "SELECT sluice.reset_expired_quota_windows()";
  private static final String RESET_AT = "SELECT sluice.reset_expired_quota_windows_at(?)";
  private static final String CONSUME_ALL =
      "SELECT allowed, used, \"limit\", remaining, resets_at"
          + " FROM sluice.consume_quota_all(?, ?, ?, ?)";
  private static final String CONSUME_ALL_AT =
      "SELECT allowed, used, \"limit\", remaining, resets_at"
          + " FROM sluice.consume_quota_all_at(?, ?, ?, ?, ?)";

  private static final System.Logger LOG =
      System.getLogger(AtomicQuotaRepository.class.getName());
  private static final QuotaListener[] NONE = {};

  /**
   * Every call: a connection and a transaction of its own, plain JDBC (Jdbi's binding and mapping
   * machinery cost several times the database call itself: ~50 µs of CPU and ~12 KB per call;
   * docs/benchmarks.md).
   */
  private final OwnTransaction tx;
  private final Clock clock;
  /** Copy-on-write: replaced, never changed, by {@link #addListener}. */
  private volatile QuotaListener[] listeners = NONE;
  /** Listeners that threw once already (later failures log at DEBUG); guarded by itself. */
  private final Set<QuotaListener> failedListeners =
      Collections.newSetFromMap(new IdentityHashMap<>());

  private AtomicQuotaRepository(OwnTransaction tx, Clock clock) {
    this.tx = tx;
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
    return new Builder(OwnTransaction.over(dataSource));
  }

  /**
   * Starts a builder over an existing Jdbi instance: each call opens a handle of its own
   * ({@link Jdbi#open()}, never a handle the calling thread already has open, so a call never joins
   * the application's transaction). Only connections come from it: its configuration (mappers,
   * plugins) is not used.
   *
   * @param jdbi the Jdbi instance
   * @return a new builder
   * @throws NullPointerException if {@code jdbi} is null
   */
  public static Builder builder(Jdbi jdbi) {
    return new Builder(OwnTransaction.over(jdbi));
  }

  /**
   * Consumes one unit without a request id.
   *
   * @param subject who is charged, such as a user id
   * @param quota the quota's name, such as {@code "chat"}
   * @return the decision, never null
   * @throws IllegalArgumentException if {@code subject} or {@code quota} is blank
   * @throws QuotaConfigurationException if the subject's plan does not define the quota, or the
   *     plan's time zone is not one the database knows
   * @throws QuotaStoreException if the database failed; it says whether the consume happened
   */
  public QuotaDecision consume(String subject, String quota) {
    return consume(subject, quota, 1, null);
  }

  /**
   * Consumes {@code amount} units if they are available in the current window, creating the
   * subject's account (on the default plan {@code free}) on first use. With a request id, the
   * same id consumes once and answers the same, however often and however concurrently it is
   * repeated; once that consumption has been {@linkplain #refund refunded}, a retry with the id
   * is a new charge (made once however many retries race), or is refused when nothing is left.
   *
   * @param subject who is charged, such as a user id
   * @param quota the quota's name, such as {@code "chat"}
   * @param amount units to consume, &gt;= 1
   * @param requestId an idempotency key; null for none
   * @return the decision, never null
   * @throws IllegalArgumentException if an argument is invalid (blank subject, quota or request
   *     id, amount &lt; 1)
   * @throws QuotaConfigurationException if the subject's plan does not define the quota, or the
   *     plan's time zone is not one the database knows; nothing was consumed
   * @throws QuotaStoreException if the database failed; it says whether the consume happened
   */
  @Override
  public QuotaDecision consume(String subject, String quota, int amount, String requestId) {
    Keys.requireSubject(subject);
    Keys.requireQuota(quota);
    requireAmount(amount);
    Keys.requireRequestId(requestId);
    QuotaListener[] ls = listeners;
    if (ls.length == 0) {
      return decide(clock == null ? CONSUME : CONSUME_AT, "consume", subject, quota, amount, true,
          requestId);
    }
    QuotaDecision d;
    try {
      d = decide(clock == null ? CONSUME : CONSUME_AT, "consume", subject, quota, amount, true,
          requestId);
    } catch (QuotaStoreException e) {
      storeFailed(ls, subject, quota, e);
      throw e;
    }
    decided(ls, subject, quota, d);
    return d;
  }

  /**
   * Consumes for many requests in one round trip and one transaction: many subjects, the same
   * subject several times, or several quotas. Each request is decided exactly as
   * {@link #consume(String, String, int, String) consume} would decide it at that point (allowed
   * or refused on its own, never partly; request ids are idempotent as there), and requests of one
   * subject and quota are decided in list order. Concurrent single consumes and other batches
   * serialise with it on each counter row; two batches never deadlock, whatever their order.
   *
   * <pre>{@code
   * List<QuotaDecision> d = quotas.consumeAll(List.of(
   *     QuotaRequest.of("alice", "chat"),
   *     new QuotaRequest("bob", "export", 2, "job-17")));
   * }</pre>
   *
   * @param requests what to consume; may be empty (no database call then)
   * @return one decision per request, in the order given
   * @throws NullPointerException if {@code requests} or one of its elements is null
   * @throws QuotaConfigurationException if a subject's plan does not define its quota, or a
   *     plan's time zone is not one the database knows; nothing of the batch was consumed
   * @throws QuotaStoreException if the database failed; it says whether the batch was applied
   *     (all of it or nothing: a retry with the same request ids is charged at most once)
   */
  public List<QuotaDecision> consumeAll(List<QuotaRequest> requests) {
    Objects.requireNonNull(requests, "requests");
    int n = requests.size();
    if (n == 0) {
      return List.of();
    }
    String[] subjects = new String[n];
    String[] quotas = new String[n];
    Integer[] amounts = new Integer[n];
    String[] requestIds = new String[n];
    for (int i = 0; i < n; i++) {
      QuotaRequest r = Objects.requireNonNull(requests.get(i), "requests[" + i + "]");
      subjects[i] = r.subject();
      quotas[i] = r.quota();
      amounts[i] = r.amount();
      requestIds[i] = r.requestId();
    }
    String what = "consume of " + n + " requests (first: '" + quotas[0] + "' for '" + subjects[0]
        + "')";
    QuotaListener[] ls = listeners;
    List<QuotaDecision> decisions;
    try {
      decisions = consumeAll(subjects, quotas, amounts, requestIds, n, what);
    } catch (QuotaStoreException e) {
      storeFailed(ls, subjects[0], quotas[0], e);
      throw e;
    }
    for (int i = 0; i < n && ls.length != 0; i++) {
      decided(ls, subjects[i], quotas[i], decisions.get(i));
    }
    return decisions;
  }

  private List<QuotaDecision> consumeAll(String[] subjects, String[] quotas, Integer[] amounts,
      String[] requestIds, int n, String what) {
    return tx.call(what, c -> {
      try (PreparedStatement ps = c.prepareStatement(clock == null ? CONSUME_ALL
          : CONSUME_ALL_AT)) {
        ps.setArray(1, c.createArrayOf("text", subjects));
        ps.setArray(2, c.createArrayOf("text", quotas));
        ps.setArray(3, c.createArrayOf("integer", amounts));
        ps.setArray(4, c.createArrayOf("text", requestIds));
        if (clock != null) {
          ps.setObject(5, now());
        }
        List<QuotaDecision> decisions = new ArrayList<>(n);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            decisions.add(new QuotaDecision(rs.getBoolean(1), rs.getLong(2), rs.getLong(3),
                rs.getLong(4), instant(rs, 5), quotas[decisions.size()]));
          }
        }
        if (decisions.size() != n) {
          throw new SQLException("consume_quota_all returned " + decisions.size()
              + " rows for " + n + " requests");
        }
        return List.copyOf(decisions);
      }
    });
  }

  /**
   * Answers what {@link #consume(String, String, int, String) consume} would decide now, in one
   * round trip, without consuming anything or writing to the database: the same plan, window and
   * clock. {@code used} and {@code remaining} are the current figures; {@code allowed} says
   * whether {@code amount} more units would be granted. A subject without an account is answered
   * as on the default plan {@code free} with nothing used, as its first consume would be.
   *
   * <p>A check and a later consume are two decisions: units another caller consumes in between
   * are not held for this one.
   *
   * @param subject who would be charged
   * @param quota the quota's name
   * @param amount units that would be consumed, &gt;= 1
   * @return the decision a consume would give now, never null
   * @throws IllegalArgumentException if {@code subject} or {@code quota} is blank, or
   *     {@code amount} &lt; 1
   * @throws QuotaConfigurationException if the subject's plan does not define the quota, or the
   *     plan's time zone is not one the database knows
   * @throws QuotaStoreException if the database failed
   */
  @Override
  public QuotaDecision check(String subject, String quota, int amount) {
    Keys.requireSubject(subject);
    Keys.requireQuota(quota);
    requireAmount(amount);
    return decide(clock == null ? CHECK : CHECK_AT, "check", subject, quota, amount, false, null);
  }

  /**
   * Runs consume or check: one row, a handful of parameters, on every protected request.
   */
  private QuotaDecision decide(String sql, String verb, String subject, String quota, int amount,
      boolean takesRequestId, String requestId) {
    return tx.call(verb + " of '" + quota + "' for '" + subject + "'", c -> {
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        int i = 1;
        ps.setString(i++, subject);
        ps.setString(i++, quota);
        ps.setInt(i++, amount);
        if (takesRequestId) {
          ps.setString(i++, requestId);
        }
        if (clock != null) {
          ps.setObject(i, now());
        }
        ResultSet rs = single(ps, verb);
        return new QuotaDecision(rs.getBoolean(1), rs.getLong(2), rs.getLong(3), rs.getLong(4),
            instant(rs, 5), quota);
      }
    });
  }

  /**
   * Gives back a consumption whose protected work failed. Idempotent; gives back only units still
   * counted in the subject's current window (never into a later window); never makes the used
   * count negative.
   *
   * @param subject who was charged
   * @param quota the quota's name
   * @param requestId the id the consumption was made with
   * @return whether this call gave units back (false when already refunded, unknown, refused in
   *     the first place, or the window has ended)
   * @throws IllegalArgumentException if {@code subject}, {@code quota} or {@code requestId} is
   *     blank
   * @throws QuotaConfigurationException if the subject's plan no longer defines the quota, or the
   *     plan's time zone is not one the database knows; nothing was given back
   * @throws QuotaStoreException if the database failed; it says whether the refund happened
   */
  @Override
  public boolean refund(String subject, String quota, String requestId) {
    Keys.requireSubject(subject);
    Keys.requireQuota(quota);
    Keys.requireText(requestId, "requestId", Keys.MAX_REQUEST_ID_BYTES);
    QuotaListener[] ls = listeners;
    boolean refunded;
    try {
      refunded = tx.call("refund of '" + quota + "' for '" + subject + "'", c -> {
        try (PreparedStatement ps = c.prepareStatement(clock == null ? REFUND : REFUND_AT)) {
          ps.setString(1, subject);
          ps.setString(2, quota);
          ps.setString(3, requestId);
          if (clock != null) {
            ps.setObject(4, now());
          }
          return single(ps, "refund").getBoolean(1);
        }
      });
    } catch (QuotaStoreException e) {
      storeFailed(ls, subject, quota, e);
      throw e;
    }
    if (refunded) {
      for (QuotaListener l : ls) {
        try {
          l.onRefunded(subject, quota);
        } catch (RuntimeException e) {
          listenerFailed(l, "onRefunded", e);
        }
      }
    }
    return refunded;
  }

  /**
   * Adds a listener, told of every later consume, refund and store failure of this repository,
   * after those already added. See {@link QuotaListener} for threading and order.
   *
   * @param listener the listener
   * @throws NullPointerException if {@code listener} is null
   */
  @Override
  public synchronized void addListener(QuotaListener listener) {
    Objects.requireNonNull(listener, "listener");
    QuotaListener[] next = java.util.Arrays.copyOf(listeners, listeners.length + 1);
    next[next.length - 1] = listener;
    listeners = next;
  }

  private void decided(QuotaListener[] ls, String subject, String quota, QuotaDecision d) {
    for (QuotaListener l : ls) {
      try {
        if (d.allowed()) {
          l.onConsumed(subject, quota, d);
        } else {
          l.onRefused(subject, quota, d);
        }
      } catch (RuntimeException e) {
        listenerFailed(l, d.allowed() ? "onConsumed" : "onRefused", e);
      }
    }
  }

  private void storeFailed(QuotaListener[] ls, String subject, String quota,
      RuntimeException failure) {
    for (QuotaListener l : ls) {
      try {
        l.onStoreFailure(subject, quota, failure);
      } catch (RuntimeException e) {
        listenerFailed(l, "onStoreFailure", e);
      }
    }
  }

  /** Logs a throwing listener at WARNING the first time, at DEBUG after; the call goes on. */
  private void listenerFailed(QuotaListener listener, String event, RuntimeException failure) {
    boolean first;
    synchronized (failedListeners) {
      first = failedListeners.add(listener);
    }
    if (first) {
      LOG.log(System.Logger.Level.WARNING, "quota listener " + listener + " threw from " + event
          + "; the call is not affected, and later failures of this listener are logged at"
          + " DEBUG", failure);
    } else {
      LOG.log(System.Logger.Level.DEBUG, "quota listener " + listener + " threw from " + event,
          failure);
    }
  }

  /**
   * Reads a subject's standing without consuming.
   *
   * @param subject the subject
   * @param quota the quota's name
   * @return the status, or empty when the subject's plan does not define the quota
   * @throws IllegalArgumentException if {@code subject} or {@code quota} is blank
   * @throws QuotaConfigurationException if the plan's time zone is not one the database knows
   * @throws QuotaStoreException if the database failed
   */
  public Optional<QuotaStatus> status(String subject, String quota) {
    Keys.requireSubject(subject);
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
   * @throws QuotaConfigurationException if a plan's time zone is not one the database knows
   * @throws QuotaStoreException if the database failed
   */
  public List<QuotaStatus> status(Collection<String> subjects, String quota) {
    Objects.requireNonNull(subjects, "subjects");
    Keys.requireQuota(quota);
    String[] array = subjects.toArray(new String[0]);
    for (String s : array) {
      Keys.requireSubject(s);
    }
    String what = "status of '" + quota + "' for "
        + (array.length == 1 ? "'" + array[0] + "'" : array.length + " subjects");
    return tx.call(what, c -> {
      try (PreparedStatement ps = c.prepareStatement(clock == null ? STATUS : STATUS_AT)) {
        ps.setArray(1, c.createArrayOf("text", array));
        ps.setString(2, quota);
        if (clock != null) {
          ps.setObject(3, now());
        }
        List<QuotaStatus> statuses = new ArrayList<>(array.length);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            statuses.add(new QuotaStatus(rs.getString(1), rs.getString(2), quota, rs.getLong(3),
                rs.getLong(4), rs.getLong(5), instant(rs, 6)));
          }
        }
        return statuses;
      }
    });
  }

  /**
   * Moves every counter whose stored window is not the current one to the current window: used
   * back to zero when its window has ended, or to what it carries over into the current window
   * when the plan's window unit was changed (see the class comment). Consumes do this lazily; this
   * keeps reports current.
   *
   * @return the number of counters moved
   * @throws QuotaConfigurationException if a plan's time zone is not one the database knows
   * @throws QuotaStoreException if the database failed
   */
  public int resetExpiredWindows() {
    return tx.call("reset of expired quota windows", c -> {
      try (PreparedStatement ps = c.prepareStatement(clock == null ? RESET : RESET_AT)) {
        if (clock != null) {
          ps.setObject(1, now());
        }
        return single(ps, "reset").getInt(1);
      }
    });
  }

  @Override
  public String toString() {
    return "AtomicQuotaRepository[clock=" + (clock == null ? "database" : clock) + "]";
  }

  /** The time to pass to the "_at" functions (only called when a clock was configured). */
  private OffsetDateTime now() {
    return OffsetDateTime.ofInstant(clock.instant(), ZoneOffset.UTC);
  }

  /** Executes a statement that answers one row, positioned on it (closed with the statement). */
  private static ResultSet single(PreparedStatement ps, String verb) throws SQLException {
    ResultSet rs = ps.executeQuery();
    if (!rs.next()) {
      throw new SQLException(verb + " returned no row");
    }
    return rs;
  }

  private static Instant instant(ResultSet rs, int column) throws SQLException {
    OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
    return value == null ? Instant.EPOCH : value.toInstant();
  }

  private static void requireAmount(int amount) {
    if (amount < 1) {
      throw new IllegalArgumentException("amount must be >= 1 but was " + amount);
    }
  }

  /**
   * Builds {@link AtomicQuotaRepository} instances.
   *
   * <p>Not thread-safe.
   */
  public static final class Builder {
    private final OwnTransaction tx;
    private Clock clock;

    Builder(OwnTransaction tx) {
      this.tx = tx;
    }

    /**
     * Decides windows with this clock instead of the database server's, for tests: its time is
     * passed to the {@code _at} twins of the shipped functions ({@code consume_quota_at} and so
     * on), which applications are never granted; the data source's user must own the schema (or
     * be granted those twins). In production leave it unset: the server clock keeps all instances
     * on one time.
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
      return new AtomicQuotaRepository(tx, clock);
    }
  }
}
