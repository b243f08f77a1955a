package dev.sluice.spring.internal;

import dev.sluice.QuotaGate;
import dev.sluice.RateLimitStore;
import dev.sluice.quota.AtomicQuotaRepository;
import dev.sluice.quota.PostgresRateLimitStore;
import dev.sluice.quota.QuotaSchema;
import javax.sql.DataSource;

/**
 * Everything that names {@code sluice-jdbc-quota}'s classes, so the starter loads them only when
 * the postgres store or a quota is configured (the module is an optional dependency).
 */
public final class PostgresSupport {
  /** The class whose presence means {@code sluice-jdbc-quota} is on the class path. */
  public static final String MARKER = "dev.sluice.quota.PostgresRateLimitStore";

  private PostgresSupport() {}

  /**
   * Migrates Sluice's schema (advisory-locked; re-runs are no-ops).
   *
   * @param dataSource the application's data source
   */
  public static void migrate(DataSource dataSource) {
    QuotaSchema.migrate(dataSource);
  }

  /**
   * A shared PostgreSQL rate-limit store.
   *
   * @param dataSource the application's data source
   * @param namespace the limiter's name
   * @return the store
   */
  public static RateLimitStore<String> store(DataSource dataSource, String namespace) {
    return PostgresRateLimitStore.create(dataSource, namespace);
  }

  /**
   * The quota repository rules consume from.
   *
   * @param dataSource the application's data source
   * @return the repository
   */
  public static QuotaGate quotaGate(DataSource dataSource) {
    return AtomicQuotaRepository.create(dataSource);
  }
}
