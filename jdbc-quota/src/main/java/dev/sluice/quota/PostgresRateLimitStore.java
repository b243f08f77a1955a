package dev.sluice.quota;

import dev.sluice.NanoClock;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimitStoreException;
import dev.sluice.StoreStats;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import javax.sql.DataSource;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.JdbiException;

/**
 * A {@link RateLimitStore} in PostgreSQL, so several application instances share one limit and
 * decide exactly as the in-memory store would. Each decision is one statement,
 * {@code SELECT * FROM sluice.rate_limit_acquire(...)}: a single upsert on the key's row in the
 * {@code UNLOGGED} table {@code sluice.rate_limit_state} that performs the GCRA step of
 * {@link RateLimitStore} under the row's lock (see {@code V3__sluice_rate_limit_store.sql}).
 *
 * <pre>{@code
 * RateLimiter<String> perUser = RateLimiter.builder()
 *     .name("chat")
 *     .limit(5, Duration.ofMinutes(1))
 *     .build(PostgresRateLimitStore.create(dataSource, "chat"));
 * }</pre>
 *
 * <p><b>Keys.</b> A key is stored as {@code (namespace, text)}: the namespace (usually the
 * limiter's name) lets several limiters share the table, and the key-to-text function turns a key
 * into text ({@code String.valueOf} by default). Distinct keys must map to distinct texts. A text
 * longer than 512 bytes in UTF-8, or holding U+0000 or an unpaired surrogate, is stored as
 * {@code sha256:} and the hex SHA-256 of its UTF-16 code units (a B-tree entry holds at most
 * ~2,700 bytes and text cannot hold U+0000: such a key used to fail in the database, and a
 * fail-open limiter then let its requests through unlimited; the driver sends an unpaired
 * surrogate as {@code ?}, which merged distinct keys). The namespace is at most 128 bytes.
 *
 * <p><b>Time.</b> The database server's clock: nanoseconds since the Unix epoch with
 * microsecond resolution, read once per statement, so every instance uses the same clock and a
 * skewed application host changes nothing; the function applications are granted,
 * {@code sluice.rate_limit_acquire}, takes no time argument. {@link Builder#clock(NanoClock)} is
 * for tests (comparing with the in-memory store step by step): it calls the twin
 * {@code sluice.rate_limit_acquire_at}, which only the schema owner may run.
 *
 * <p><b>Durability.</b> The table is {@code UNLOGGED}: no WAL per decision, but a database crash
 * empties it, giving every key a full bucket once, and standbys do not see it.
 * {@code sluice.cleanup_old_sessions} deletes keys whose bucket is full again.
 *
 * <p><b>Remote, and asynchronous.</b> The store is {@linkplain #isRemote() remote}: a limiter on
 * it is not local, so the servlet filter asks it with {@code tryAcquireAsync} and suspends the
 * request instead of blocking a container thread. {@link #acquireAsync} runs the statement on an
 * executor: the one given to {@link Builder#executor(Executor)}, or one the store owns (four
 * daemon threads named {@code sluice-pg-rate-limit-<namespace>-<n>}, idle ones ending after a
 * minute, at most 1024 steps waiting), shut down by {@link #close()}. A step the executor refuses
 * (saturated, shut down) completes exceptionally with a {@link RateLimitStoreException}; it never
 * throws. {@link #acquire} still runs on the calling thread.
 *
 * <p><b>Timeout.</b> Each step is bounded by {@link Builder#statementTimeout(Duration)} (100 ms by
 * default, like the Redis store): the statement is sent together with
 * {@code SELECT set_config('statement_timeout', '<n>ms', true)}, in the same round trip and the
 * same implicit transaction, so the server cancels a step that waits longer (on a row another
 * transaction locked, on a stalled server) and the setting never outlives it on a pooled
 * connection (a connection handed out with auto-commit off is committed after the step, so that
 * the pool's rollback on return never undoes it). A timed-out step throws, or completes
 * exceptionally with, a {@link RateLimitStoreException}; the decision is then unknown, and the
 * caller's fail-open or fail-closed choice answers. The wait for a pooled connection is the
 * pool's own timeout.
 *
 * <p>Thread-safe: an instance holds only immutable configuration and its executor; all state is
 * in the database.
 *
 * @param <K> the key type
 */
public final class PostgresRateLimitStore<K> implements RateLimitStore<K>, AutoCloseable {
  private static final String ACQUIRE =
      "SELECT allowed, tat_nanos, now_nanos FROM sluice.rate_limit_acquire(?, ?, ?, ?)";
  private static final String ACQUIRE_AT =
      "SELECT allowed, tat_nanos, now_nanos FROM sluice.rate_limit_acquire_at(?, ?, ?, ?, ?)";

  /** The default statement timeout, as the Redis store's command timeout. */
  static final Duration DEFAULT_STATEMENT_TIMEOUT = Duration.ofMillis(100);
  /** PostgreSQL's largest {@code statement_timeout}: a 32-bit count of milliseconds. */
  private static final Duration MAX_STATEMENT_TIMEOUT = Duration.ofMillis(Integer.MAX_VALUE);
  private static final int OWN_THREADS = 4;
  private static final int OWN_QUEUE = 1024;

  private final LongAdder calls = new LongAdder();
  private final LongAdder failures = new LongAdder();
  private final AtomicLong consecutiveFailures = new AtomicLong();
  private final OwnTransaction tx;
  private final String namespace;
  private final Function<? super K, String> keyText;
  private final NanoClock clock;
  private final long timeoutMillis;
  /** The statement: the step, after the timeout setting when there is one. */
  private final String sql;
  private final Executor executor;
  /** The executor this store made and shuts down, or null when given one. */
  private final ExecutorService ownExecutor;

  private PostgresRateLimitStore(Builder<K> b) {
    this.tx = b.tx;
    this.namespace = b.namespace;
    this.keyText = b.keyText;
    this.clock = b.clock;
    this.timeoutMillis = b.statementTimeout.toMillis();
    String step = clock == null ? ACQUIRE : ACQUIRE_AT;
    this.sql = timeoutMillis == 0 ? step
        : "SELECT set_config('statement_timeout', '" + timeoutMillis + "ms', true); " + step;
    if (b.executor != null) {
      this.executor = b.executor;
      this.ownExecutor = null;
    } else {
      this.ownExecutor = ownExecutor(namespace);
      this.executor = ownExecutor;
    }
  }

  private static ExecutorService ownExecutor(String namespace) {
    AtomicInteger count = new AtomicInteger();
    ThreadPoolExecutor pool = new ThreadPoolExecutor(OWN_THREADS, OWN_THREADS, 60,
        TimeUnit.SECONDS, new LinkedBlockingQueue<>(OWN_QUEUE), r -> {
          Thread t = new Thread(r,
              "sluice-pg-rate-limit-" + namespace + "-" + count.incrementAndGet());
          t.setDaemon(true);
          return t;
        }, new ThreadPoolExecutor.AbortPolicy());
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  /**
   * Creates a store for keys whose {@code String.valueOf} identifies them, on the server's clock.
   *
   * @param <K> the key type
   * @param dataSource where connections come from
   * @param namespace the namespace of this limiter's keys, such as its name
   * @return a new store
   * @throws NullPointerException if {@code dataSource} is null
   * @throws IllegalArgumentException if {@code namespace} is blank or over 128 bytes in UTF-8
   */
  public static <K> PostgresRateLimitStore<K> create(DataSource dataSource, String namespace) {
    return PostgresRateLimitStore.<K>builder(dataSource, namespace).build();
  }

  /**
   * Starts a builder.
   *
   * @param <K> the key type
   * @param dataSource where connections come from
   * @param namespace the namespace of this limiter's keys, such as its name
   * @return a new builder
   * @throws NullPointerException if {@code dataSource} is null
   * @throws IllegalArgumentException if {@code namespace} is blank or over 128 bytes in UTF-8
   */
  public static <K> Builder<K> builder(DataSource dataSource, String namespace) {
    return new Builder<>(OwnTransaction.over(dataSource), namespace);
  }

  /**
   * Starts a builder over an existing Jdbi instance.
   *
   * @param <K> the key type
   * @param jdbi the Jdbi instance
   * @param namespace the namespace of this limiter's keys, such as its name
   * @return a new builder
   * @throws NullPointerException if {@code jdbi} is null
   * @throws IllegalArgumentException if {@code namespace} is blank or over 128 bytes in UTF-8
   */
  public static <K> Builder<K> builder(Jdbi jdbi, String namespace) {
    return new Builder<>(OwnTransaction.over(jdbi), namespace);
  }

  /**
   * Applies one GCRA step for a key atomically in the database.
   *
   * @param key the key, never null
   * @param incrementNanos the cost of the call, &gt; 0
   * @param toleranceNanos the burst tolerance, &gt; 0
   * @return the outcome, with times in nanoseconds on the store's clock
   * @throws NullPointerException if {@code key} is null, or the key-to-text function returns null
   * @throws RateLimitStoreException if the database cannot answer; the decision is then unknown
   */
  @Override
  public Outcome acquire(K key, long incrementNanos, long toleranceNanos) {
    return step(text(key), incrementNanos, toleranceNanos);
  }

  /**
   * Applies one GCRA step for a key atomically in the database, on this store's executor, so the
   * caller does not wait for the round trip.
   *
   * @param key the key, never null
   * @param incrementNanos the cost of the call, &gt; 0
   * @param toleranceNanos the burst tolerance, &gt; 0
   * @return a stage completing with the outcome, or exceptionally with a
   *     {@link RateLimitStoreException} when the database cannot answer in time or the executor
   *     refuses the step
   * @throws NullPointerException if {@code key} is null, or the key-to-text function returns null
   */
  @Override
  public CompletionStage<Outcome> acquireAsync(K key, long incrementNanos, long toleranceNanos) {
    String text = text(key);
    CompletableFuture<Outcome> result = new CompletableFuture<>();
    try {
      executor.execute(() -> {
        try {
          result.complete(step(text, incrementNanos, toleranceNanos));
        } catch (RateLimitStoreException e) {
          result.completeExceptionally(e);
        } catch (RuntimeException | Error e) {
          result.completeExceptionally(new RateLimitStoreException("PostgreSQL rate-limit store '"
              + namespace + "' failed for key '" + text + "': " + e, e));
          if (e instanceof Error error) {
            throw error;
          }
        }
      });
    } catch (RejectedExecutionException e) {
      calls.increment();
      failed();
      result.completeExceptionally(new RateLimitStoreException("PostgreSQL rate-limit store '"
          + namespace + "' refused a step for key '" + text + "': its executor is saturated or"
          + " shut down (" + e.getMessage() + ")", e));
    }
    return result;
  }

  /**
   * Always true: every step is a round trip to PostgreSQL.
   *
   * @return true
   */
  @Override
  public boolean isRemote() {
    return true;
  }

  /**
   * Shuts down the executor this store made, if it made one, letting queued steps finish; an
   * executor given to the builder is left alone. Later {@link #acquireAsync} calls complete
   * exceptionally; {@link #acquire} keeps working. Idempotent.
   */
  @Override
  public void close() {
    if (ownExecutor != null) {
      ownExecutor.shutdown();
    }
  }

  private String text(K key) {
    return Keys.rateLimitKey(
        Objects.requireNonNull(keyText.apply(Objects.requireNonNull(key, "key")), "key text"));
  }

  private Outcome step(String text, long incrementNanos, long toleranceNanos) {
    calls.increment();
    try {
      Outcome outcome = stepOnce(text, incrementNanos, toleranceNanos);
      if (consecutiveFailures.get() != 0) {
        consecutiveFailures.set(0);
      }
      return outcome;
    } catch (RuntimeException e) {
      failed();
      throw e;
    }
  }

  private void failed() {
    failures.increment();
    consecutiveFailures.incrementAndGet();
  }

  /**
   * This store's steps and failures since it was built (timeouts, lost connections, a saturated
   * executor), named {@code "postgres:<namespace>"}; see
   * {@link dev.sluice.HealthContributors#rateLimitStore(dev.sluice.RateLimitStore)}.
   *
   * @return the counts, always present
   */
  @Override
  public Optional<StoreStats> stats() {
    return Optional.of(new StoreStats("postgres:" + namespace, calls.sum(), failures.sum(),
        consecutiveFailures.get()));
  }

  private Outcome stepOnce(String text, long incrementNanos, long toleranceNanos) {
    // One clock read per decision: the time goes to the database once, and the step uses it both
    // for the decision and for a key's new cell (issue 12).
    Long now = clock == null ? null : clock.nanoTime();
    try {
      return tx.run(c -> run(c, text, incrementNanos, toleranceNanos, now));
    } catch (JdbiException | SQLException e) {
      SQLException sql = e instanceof SQLException s ? s
          : e.getCause() instanceof SQLException s ? s : null;
      if (sql != null && "57014".equals(sql.getSQLState()) && timeoutMillis > 0) {
        throw new RateLimitStoreException("PostgreSQL rate-limit store '" + namespace
            + "' timed out after " + timeoutMillis + " ms for key '" + text + "'", e);
      }
      throw new RateLimitStoreException("PostgreSQL rate-limit store '" + namespace
          + "' could not answer for key '" + text + "': " + e.getMessage(), e);
    }
  }

  /**
   * One round trip: the timeout setting, if any, and the step are pipelined before one Sync, so
   * they run in one implicit transaction and the setting ends with it.
   */
  private Outcome run(Connection c, String text, long incrementNanos, long toleranceNanos,
      Long now) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, namespace);
      ps.setString(2, text);
      ps.setLong(3, incrementNanos);
      ps.setLong(4, toleranceNanos);
      if (now != null) {
        ps.setLong(5, now);
      }
      ps.execute();
      if (timeoutMillis > 0 && !ps.getMoreResults()) {
        throw new SQLException("the rate-limit step returned no row");
      }
      try (ResultSet rs = ps.getResultSet()) {
        if (rs == null || !rs.next()) {
          throw new SQLException("the rate-limit step returned no row");
        }
        return new Outcome(rs.getBoolean(1), rs.getLong(2), rs.getLong(3));
      }
    }
  }

  /**
   * The namespace of this store's keys.
   *
   * @return the namespace
   */
  public String namespace() {
    return namespace;
  }

  /**
   * The statement timeout of each step.
   *
   * @return the timeout, zero when disabled
   */
  public Duration statementTimeout() {
    return Duration.ofMillis(timeoutMillis);
  }

  @Override
  public String toString() {
    return "PostgresRateLimitStore[" + namespace + "]";
  }

  /**
   * Builds {@link PostgresRateLimitStore} instances.
   *
   * <p>Not thread-safe.
   *
   * @param <K> the key type
   */
  public static final class Builder<K> {
    private final OwnTransaction tx;
    private final String namespace;
    private Function<? super K, String> keyText = String::valueOf;
    private NanoClock clock;
    private Duration statementTimeout = DEFAULT_STATEMENT_TIMEOUT;
    private Executor executor;

    Builder(OwnTransaction tx, String namespace) {
      Keys.requireText(namespace, "namespace", Keys.MAX_NAMESPACE_BYTES);
      this.tx = tx;
      this.namespace = namespace;
    }

    /**
     * Sets how a key becomes the text stored in the database. Distinct keys must give distinct
     * texts. Defaults to {@code String.valueOf}.
     *
     * @param keyText the function
     * @return this builder
     * @throws NullPointerException if {@code keyText} is null
     */
    public Builder<K> keyText(Function<? super K, String> keyText) {
      this.keyText = Objects.requireNonNull(keyText, "keyText");
      return this;
    }

    /**
     * Supplies the time from the application instead of the database server's clock, for tests:
     * it calls {@code sluice.rate_limit_acquire_at}, which applications are never granted (the
     * data source's user must own the schema or be granted it). Read once per decision.
     *
     * @param clock the clock, or null for the server's (the default)
     * @return this builder
     */
    public Builder<K> clock(NanoClock clock) {
      this.clock = clock;
      return this;
    }

    /**
     * Sets how long one step may run in the database before the server cancels it (default
     * 100 ms); {@link Duration#ZERO} disables it, leaving the server's own
     * {@code statement_timeout}. Whole milliseconds. A step that times out fails with a
     * {@link RateLimitStoreException}.
     *
     * @param timeout zero, or at least one millisecond
     * @return this builder
     * @throws NullPointerException if {@code timeout} is null
     */
    public Builder<K> statementTimeout(Duration timeout) {
      this.statementTimeout = Objects.requireNonNull(timeout, "statementTimeout");
      return this;
    }

    /**
     * Sets the executor {@link PostgresRateLimitStore#acquireAsync} runs its statements on. Bound
     * it (threads and queue) to what the connection pool can serve; a step it rejects completes
     * exceptionally with a {@link RateLimitStoreException}. The store never shuts a given
     * executor down. By default the store makes its own small daemon pool (see the class
     * description), which {@link PostgresRateLimitStore#close()} shuts down.
     *
     * @param executor the executor
     * @return this builder
     * @throws NullPointerException if {@code executor} is null
     */
    public Builder<K> executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Builds the store.
     *
     * @return a new store
     * @throws IllegalArgumentException if the statement timeout is negative, positive but below
     *     one millisecond, or longer than PostgreSQL accepts (about 24 days)
     */
    public PostgresRateLimitStore<K> build() {
      if (statementTimeout.isNegative()
          || statementTimeout.compareTo(MAX_STATEMENT_TIMEOUT) > 0
          || (!statementTimeout.isZero() && statementTimeout.toMillis() < 1)) {
        throw new IllegalArgumentException("statementTimeout must be 0 (disabled) or between 1 ms"
            + " and " + MAX_STATEMENT_TIMEOUT + " but was " + statementTimeout);
      }
      return new PostgresRateLimitStore<>(this);
    }
  }
}
