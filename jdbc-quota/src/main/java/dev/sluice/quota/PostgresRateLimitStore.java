package dev.sluice.quota;

import dev.sluice.NanoClock;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimitStoreException;
import java.util.Objects;
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
 * into text ({@code String.valueOf} by default). Distinct keys must map to distinct texts.
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
 * <p>Thread-safe: an instance holds only immutable configuration; all state is in the database.
 *
 * @param <K> the key type
 */
public final class PostgresRateLimitStore<K> implements RateLimitStore<K> {
  private static final String ACQUIRE =
      "SELECT allowed, tat_nanos, now_nanos FROM sluice.rate_limit_acquire(?, ?, ?, ?)";
  private static final String ACQUIRE_AT =
      "SELECT allowed, tat_nanos, now_nanos FROM sluice.rate_limit_acquire_at(?, ?, ?, ?, ?)";

  private final Jdbi jdbi;
  private final String namespace;
  private final Function<? super K, String> keyText;
  private final NanoClock clock;

  private PostgresRateLimitStore(
      Jdbi jdbi, String namespace, Function<? super K, String> keyText, NanoClock clock) {
    this.jdbi = jdbi;
    this.namespace = namespace;
    this.keyText = keyText;
    this.clock = clock;
  }

  /**
   * Creates a store for keys whose {@code String.valueOf} identifies them, on the server's clock.
   *
   * @param <K> the key type
   * @param dataSource where connections come from
   * @param namespace the namespace of this limiter's keys, such as its name
   * @return a new store
   * @throws NullPointerException if {@code dataSource} is null
   * @throws IllegalArgumentException if {@code namespace} is blank
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
   * @throws IllegalArgumentException if {@code namespace} is blank
   */
  public static <K> Builder<K> builder(DataSource dataSource, String namespace) {
    return new Builder<>(Jdbi.create(Objects.requireNonNull(dataSource, "dataSource")), namespace);
  }

  /**
   * Starts a builder over an existing Jdbi instance.
   *
   * @param <K> the key type
   * @param jdbi the Jdbi instance
   * @param namespace the namespace of this limiter's keys, such as its name
   * @return a new builder
   * @throws NullPointerException if {@code jdbi} is null
   * @throws IllegalArgumentException if {@code namespace} is blank
   */
  public static <K> Builder<K> builder(Jdbi jdbi, String namespace) {
    return new Builder<>(Objects.requireNonNull(jdbi, "jdbi"), namespace);
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
    String text = Objects.requireNonNull(
        keyText.apply(Objects.requireNonNull(key, "key")), "key text");
    // One clock read per decision: the time goes to the database once, and the step uses it both
    // for the decision and for a key's new cell (issue 12).
    Long now = clock == null ? null : clock.nanoTime();
    try {
      return jdbi.withHandle(h -> {
        var query = h.createQuery(now == null ? ACQUIRE : ACQUIRE_AT)
            .bind(0, namespace)
            .bind(1, text)
            .bind(2, incrementNanos)
            .bind(3, toleranceNanos);
        if (now != null) {
          query.bind(4, now.longValue());
        }
        return query
            .map((rs, ctx) -> new Outcome(rs.getBoolean(1), rs.getLong(2), rs.getLong(3)))
            .one();
      });
    } catch (JdbiException e) {
      throw new RateLimitStoreException("PostgreSQL rate-limit store '" + namespace
          + "' could not answer for key '" + text + "': " + e.getMessage(), e);
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
    private final Jdbi jdbi;
    private final String namespace;
    private Function<? super K, String> keyText = String::valueOf;
    private NanoClock clock;

    Builder(Jdbi jdbi, String namespace) {
      AtomicQuotaRepository.requireText(namespace, "namespace");
      this.jdbi = jdbi;
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
     * Builds the store.
     *
     * @return a new store
     */
    public PostgresRateLimitStore<K> build() {
      return new PostgresRateLimitStore<>(jdbi, namespace, keyText, clock);
    }
  }
}
