package dev.sluice.quota;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.QuotaStoreException;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A counter locked by a session that stalled (an operator's open transaction, a session idle in a
 * transaction): consumes and refunds of that subject wait at most the lock_timeout V9 sets on the
 * request functions, then fail saying so, with nothing applied. Before V9 they waited forever, and
 * so did the request threads in them.
 */
class QuotaLockTimeoutTest {
  /** The functions V9 bounds, as {@code regprocedure} text. */
  private static final List<String> BOUNDED = List.of(
      "sluice.consume_quota(text,text,integer,text)",
      "sluice.consume_quota_at(text,text,integer,text,timestamp with time zone)",
      "sluice.consume_quota_all(text[],text[],integer[],text[])",
      "sluice.consume_quota_all_at(text[],text[],integer[],text[],timestamp with time zone)",
      "sluice.refund_quota(text,text,text)",
      "sluice.refund_quota_at(text,text,text,timestamp with time zone)");

  private static QuotaDatabase pg;
  private static QuotaFixtures fx;
  private static HikariDataSource pool;

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
    fx = new QuotaFixtures(pg);
    pool = pg.pool("lock-timeout", 2);
  }

  @AfterAll
  static void tearDown() {
    if (pool != null) {
      pool.close();
    }
  }

  @Test
  void theRequestFunctionsShipWithAFiveSecondLockTimeout() {
    for (String function : BOUNDED) {
      assertThat(pg.queryText("SELECT array_to_string(proconfig, ' ') FROM pg_proc WHERE oid = '"
          + function + "'::regprocedure")).as(function).contains("lock_timeout=5s");
    }
  }

  @Test
  void aCounterLockedByAStalledSession_consumeAndRefundFailWithinTheTimeoutAndApplyNothing()
      throws Exception {
    AtomicQuotaRepository quotas = AtomicQuotaRepository.create(pool);
    String subject = fx.subjectOn(fx.plan(5, "day", "UTC"));
    assertThat(quotas.consume(subject, "q", 1, "r1").used()).isEqualTo(1);

    // Shorter than shipped, so that the test does not wait 5 s; put back afterwards. The wrapper
    // refund_quota runs refund_quota_at, whose own setting applies inside it.
    pg.execute("ALTER FUNCTION sluice.consume_quota(text, text, integer, text)"
        + " SET lock_timeout = '200ms';"
        + " ALTER FUNCTION sluice.refund_quota_at(text, text, text, timestamptz)"
        + " SET lock_timeout = '200ms'");
    try (Connection stalled = pg.dataSource().getConnection();
        Statement s = stalled.createStatement()) {
      stalled.setAutoCommit(false);
      s.execute("SELECT 1 FROM sluice.quota_usage WHERE subject = '" + subject + "' FOR UPDATE");

      assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
        assertThatThrownBy(() -> quotas.consume(subject, "q"))
            .isInstanceOfSatisfying(QuotaStoreException.class,
                e -> assertThat(e.outcomeKnown()).isTrue())
            .hasMessageStartingWith("consume of 'q' for '" + subject + "' failed: the counter"
                + " stayed locked by another session")
            .hasMessageContaining("nothing was applied");
        assertThatThrownBy(() -> quotas.refund(subject, "q", "r1"))
            .isInstanceOfSatisfying(QuotaStoreException.class,
                e -> assertThat(e.outcomeKnown()).isTrue())
            .hasMessageStartingWith("refund of 'q' for '" + subject + "' failed: the counter"
                + " stayed locked by another session");
      });
      stalled.rollback();
    } finally {
      pg.execute("ALTER FUNCTION sluice.consume_quota(text, text, integer, text)"
          + " SET lock_timeout = '5s';"
          + " ALTER FUNCTION sluice.refund_quota_at(text, text, text, timestamptz)"
          + " SET lock_timeout = '5s'");
    }

    assertThat(fx.storedUsed(subject)).as("nothing applied while locked").isEqualTo(1);
    assertThat(quotas.consume(subject, "q").used()).isEqualTo(2);
    assertThat(quotas.refund(subject, "q", "r1")).isTrue();
    assertThat(fx.storedUsed(subject)).isEqualTo(1);
  }
}
