package dev.sluice.quota;

import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.NanoClock;
import dev.sluice.RateLimitStore;
import dev.sluice.contract.RateLimitStoreContract;
import java.time.Duration;

/**
 * The contract kit on PostgreSQL. Each instance is its own HikariCP pool, as two application
 * processes would have; an injected clock goes through {@code sluice.rate_limit_acquire_at}, which
 * the tests' (owner) user may run.
 */
class PostgresRateLimitStoreContractTest extends RateLimitStoreContract {

  @Override
  protected Instance openInstance() {
    QuotaDatabase pg = QuotaDatabase.get();
    HikariDataSource pool = pg.pool(QuotaDatabase.unique("contract"), 8);
    return new Instance() {
      @Override
      public RateLimitStore<String> store(String namespace, NanoClock clock) {
        // The kit races many callers on one key; queued on its row lock on a loaded machine,
        // a step can outlast the default 100 ms statement timeout, a correct failure that is
        // not what the kit checks (PostgresRateLimitStoreTest covers the timeout).
        return PostgresRateLimitStore.<String>builder(pool, namespace).clock(clock)
            .statementTimeout(Duration.ofSeconds(30)).build();
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
        QuotaDatabase.dataSource("jdbc:postgresql://127.0.0.1:1/nowhere?connectTimeout=2", null),
        namespace("down"));
  }
}
