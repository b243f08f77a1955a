package dev.sluice.quota;

import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.NanoClock;
import dev.sluice.RateLimitStore;
import dev.sluice.contract.RateLimitStoreContract;

/**
 * The contract kit on PostgreSQL. Each instance is its own HikariCP pool, as two application
 * processes would have; an injected clock goes through {@code sluice.rate_limit_acquire_at}, which
 * the tests' (owner) user may run.
 */
class PostgresRateLimitStoreContractTest extends RateLimitStoreContract {

  @Override
  protected Instance openInstance() {
    TestPostgres pg = TestPostgres.get();
    HikariDataSource pool = pg.pool(TestPostgres.unique("contract"), 8);
    return new Instance() {
      @Override
      public RateLimitStore<String> store(String namespace, NanoClock clock) {
        return PostgresRateLimitStore.<String>builder(pool, namespace).clock(clock).build();
      }

      @Override
      public void close() {
        pool.close();
      }
    };
  }

  @Override
  protected RateLimitStore<String> unreachableStore() {
    return PostgresRateLimitStore.create(
        TestPostgres.dataSource("jdbc:postgresql://127.0.0.1:1/nowhere?connectTimeout=2", null),
        namespace("down"));
  }
}
