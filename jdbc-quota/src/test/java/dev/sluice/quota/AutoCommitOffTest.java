package dev.sluice.quota;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.QuotaDecision;
import dev.sluice.RateLimiter;
import java.time.Duration;
import java.util.List;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A careless pool setting: HikariCP's {@code autoCommit=false} (often recommended with Hibernate).
 * Every call still counts: the repository and the rate-limit store commit the connection they
 * borrowed, instead of leaving the work to the pool's rollback on return (before, every consume
 * answered "allowed" and nothing was ever counted).
 */
class AutoCommitOffTest {
  private static QuotaDatabase pg;
  private static QuotaFixtures fx;
  /** One connection, so that each call gets the connection the previous one gave back. */
  private static HikariDataSource manual;

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
    fx = new QuotaFixtures(pg);
    manual = autoCommitOff("auto-commit-off", 1);
  }

  private static HikariDataSource autoCommitOff(String name, int size) {
    HikariConfig config = new HikariConfig();
    config.setPoolName(name);
    config.setJdbcUrl(pg.url());
    config.setMaximumPoolSize(size);
    config.setConnectionTimeout(10_000);
    config.setAutoCommit(false);
    return new HikariDataSource(config);
  }

  @AfterAll
  static void tearDown() {
    if (manual != null) {
      manual.close();
    }
  }

  @Test
  void consumesRefundsAndBatchesOverAutoCommitOffConnectionsAreCommitted() throws Exception {
    try (var c = manual.getConnection()) {
      assertThat(c.getAutoCommit()).as("the pool hands out auto-commit off").isFalse();
    }
    AtomicQuotaRepository quotas = AtomicQuotaRepository.create(manual);
    String subject = fx.subjectOn(fx.plan(4, "day", "UTC"));

    assertThat(quotas.consume(subject, "q").used()).isEqualTo(1);
    assertThat(quotas.consume(subject, "q", 1, "r1").used()).isEqualTo(2);
    assertThat(fx.storedUsed(subject)).as("seen from another session").isEqualTo(2);

    assertThat(quotas.refund(subject, "q", "r1")).isTrue();
    assertThat(fx.storedUsed(subject)).isEqualTo(1);

    List<QuotaDecision> batch = quotas.consumeAll(List.of(new QuotaRequest(subject, "q", 2, null),
        new QuotaRequest(subject, "q", 2, null)));
    assertThat(batch).extracting(QuotaDecision::allowed).containsExactly(true, false);
    assertThat(fx.storedUsed(subject)).isEqualTo(3);
    assertThat(quotas.status(List.of(subject), "q")).singleElement()
        .satisfies(s -> assertThat(s.used()).isEqualTo(3));
    assertThat(quotas.consume(subject, "q", 2, null).allowed()).isFalse();
  }

  @Test
  void aFailedCallRollsBackAndLeavesTheConnectionUsable() {
    AtomicQuotaRepository quotas = AtomicQuotaRepository.create(manual);
    String subject = fx.subjectOn(fx.plan(2, "day", "UTC"));

    assertThatThrownBy(() -> quotas.consume(subject, "not-in-the-plan"))
        .isInstanceOf(QuotaConfigurationException.class)
        .hasMessageContaining("not-in-the-plan");
    // The same (only) connection again: not stuck in an aborted transaction.
    assertThat(quotas.consume(subject, "q").used()).isEqualTo(1);
    assertThat(fx.storedUsed(subject)).isEqualTo(1);
  }

  @Test
  void overJdbiEachCallIsItsOwnTransactionNotTheCallersOne() {
    try (HikariDataSource two = autoCommitOff("auto-commit-off-jdbi", 2)) {
      Jdbi jdbi = Jdbi.create(two);
      AtomicQuotaRepository quotas = AtomicQuotaRepository.builder(jdbi).build();
      String subject = fx.subjectOn(fx.plan(3, "day", "UTC"));

      assertThat(quotas.consume(subject, "q").used()).isEqualTo(1);
      assertThat(fx.storedUsed(subject)).isEqualTo(1);
      // Inside the application's transaction, which it then rolls back: the consume stays counted
      // (it ran on a handle of its own, and was committed there).
      jdbi.useTransaction(h -> {
        h.execute("SELECT 1");
        assertThat(quotas.consume(subject, "q").used()).isEqualTo(2);
        h.rollback();
      });
      assertThat(fx.storedUsed(subject)).isEqualTo(2);
    }
  }

  @Test
  void rateLimitStepsOverAutoCommitOffConnectionsAreCommitted() {
    try (PostgresRateLimitStore<String> store =
        PostgresRateLimitStore.create(manual, QuotaDatabase.unique("manual"))) {
      RateLimiter<String> limiter = RateLimiter.builder().name("manual")
          .limit(2, Duration.ofMinutes(1)).build(store);
      assertThat(limiter.tryAcquire("k").allowed()).isTrue();
      assertThat(limiter.tryAcquire("k").allowed()).isTrue();
      assertThat(limiter.tryAcquire("k").allowed()).as("the first two steps were kept").isFalse();
    }
  }
}
