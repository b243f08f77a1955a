package dev.sluice.quota;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.QuotaDecision;
import dev.sluice.testing.Concurrently;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * V8 caches a counter's limit in its row, labelled with the configuration version it was read
 * under. Every way an operator changes a limit must apply to the very next consume (V1's rule: a
 * plan's allowance is never copied into a subject's row in a way that outlives a change).
 */
class QuotaLimitCacheTest {
  private static final Instant MIDNIGHT = Instant.parse("2030-05-07T00:00:00Z");

  private static QuotaDatabase pg;
  private static HikariDataSource pool;
  private static QuotaFixtures fx;
  private static AtomicQuotaRepository repo;

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
    pool = pg.pool("quota-limit-cache", 10);
    fx = new QuotaFixtures(pg);
    repo = AtomicQuotaRepository.builder(pool)
        .clock(new QuotaFixtures.MutableClock("2030-05-06T10:00:00Z"))
        .build();
  }

  @AfterAll
  static void tearDown() {
    if (pool != null) {
      pool.close();
    }
  }

  private static QuotaDecision decision(boolean allowed, int used, int limit) {
    return new QuotaDecision(allowed, used, limit, Math.max(0, limit - used), MIDNIGHT, "q");
  }

  @Test
  void planAllowanceChanged_appliesToTheNextConsumeOfEveryCounter() {
    String plan = fx.plan(5, "day", "UTC");
    String a = fx.subjectOn(plan);
    String b = fx.subjectOn(plan);
    repo.consume(a, "q", 2, null);
    repo.consume(b, "q", 2, null);

    pg.execute("UPDATE sluice.plan_quota SET allowance = 2 WHERE plan = '" + plan + "'");
    QuotaDecision aLowered = repo.consume(a, "q");
    QuotaDecision bLowered = repo.consume(b, "q");
    pg.execute("UPDATE sluice.plan_quota SET allowance = 4 WHERE plan = '" + plan + "'");
    QuotaDecision aRaised = repo.consume(a, "q");

    assertThat(aLowered).isEqualTo(decision(false, 2, 2));
    assertThat(bLowered).isEqualTo(decision(false, 2, 2));
    assertThat(aRaised).isEqualTo(decision(true, 3, 4));
  }

  @Test
  void subjectMovedToAnotherPlan_appliesToItsNextConsume() {
    String roomy = fx.plan(5, "day", "UTC");
    String tight = fx.plan(1, "day", "UTC");
    String subject = fx.subjectOn(roomy);
    String neighbour = fx.subjectOn(roomy);
    repo.consume(subject, "q");
    repo.consume(neighbour, "q");

    pg.execute("UPDATE sluice.subject SET plan = '" + tight + "' WHERE subject = '" + subject + "'");
    QuotaDecision moved = repo.consume(subject, "q");
    QuotaDecision untouched = repo.consume(neighbour, "q");
    pg.execute("UPDATE sluice.subject SET plan = '" + roomy + "' WHERE subject = '" + subject + "'");
    QuotaDecision back = repo.consume(subject, "q");

    assertThat(moved).isEqualTo(decision(false, 1, 1));
    assertThat(untouched).isEqualTo(decision(true, 2, 5));
    assertThat(back).isEqualTo(decision(true, 2, 5));
  }

  @Test
  void overrideAddedChangedAndRemoved_eachAppliesToTheNextConsume() {
    String plan = fx.plan(5, "day", "UTC");
    String subject = fx.subjectOn(plan);
    repo.consume(subject, "q");

    pg.execute("INSERT INTO sluice.subject_quota_override (subject, quota, allowance) VALUES ('"
        + subject + "', 'q', 1)");
    QuotaDecision added = repo.consume(subject, "q");
    pg.execute("UPDATE sluice.subject_quota_override SET allowance = 3 WHERE subject = '"
        + subject + "'");
    QuotaDecision changed = repo.consume(subject, "q");
    pg.execute("DELETE FROM sluice.subject_quota_override WHERE subject = '" + subject + "'");
    QuotaDecision removed = repo.consume(subject, "q");

    assertThat(added).isEqualTo(decision(false, 1, 1));
    assertThat(changed).isEqualTo(decision(true, 2, 3));
    assertThat(removed).isEqualTo(decision(true, 3, 5));
  }

  @Test
  void subjectDeletedAndCreatedOnAnotherPlan_theNewPlanApplies() {
    String roomy = fx.plan(5, "day", "UTC");
    String tight = fx.plan(1, "day", "UTC");
    String subject = fx.subjectOn(roomy);
    repo.consume(subject, "q");

    pg.execute("DELETE FROM sluice.subject WHERE subject = '" + subject + "'");
    pg.execute("INSERT INTO sluice.subject (subject, plan) VALUES ('" + subject + "', '" + tight
        + "')");

    assertThat(repo.consume(subject, "q")).isEqualTo(decision(false, 1, 1));
  }

  @Test
  void consumeWithoutRequestId_writesNoLedgerRow_withOneWritesOne() {
    String plan = fx.plan(5, "day", "UTC");
    String subject = fx.subjectOn(plan);

    repo.consume(subject, "q");
    repo.consume(subject, "q", 2, null);
    long anonymousRows = fx.ledgerRows(subject);
    repo.consume(subject, "q", 1, "r1");

    assertThat(anonymousRows).isZero();
    assertThat(fx.ledgerRows(subject)).isOne();
    assertThat(fx.storedUsed(subject)).isEqualTo(4);
  }

  /**
   * Eight threads consume one subject's quota while the plan's allowance is lowered below what is
   * already used: every consume that starts after the change has committed is refused.
   */
  @Test
  void allowanceLoweredWhileConsumesRace_everyConsumeStartedAfterTheChangeIsRefused()
      throws Exception {
    String plan = fx.plan(1_000_000, "day", "UTC");
    String subject = fx.subjectOn(plan);
    AtomicQuotaRepository live = AtomicQuotaRepository.builder(pool).build();
    AtomicLong changedAt = new AtomicLong(Long.MAX_VALUE);
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<String> afterChange = new ConcurrentLinkedQueue<>();
    Thread operator = new Thread(() -> {
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (fx.storedUsed(subject) < 20 && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      pg.execute("UPDATE sluice.plan_quota SET allowance = 10 WHERE plan = '" + plan + "'");
      changedAt.set(System.nanoTime());
      while (afterChange.size() < 200 && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      stop.set(true);
    });
    operator.start();
    Concurrently.run(8, Duration.ofSeconds(30), i -> {
      while (!stop.get()) {
        long started = System.nanoTime();
        QuotaDecision d = live.consume(subject, "q");
        if (started > changedAt.get()) {
          afterChange.add(d.allowed() + " " + d.limit());
        }
      }
    });
    operator.join(Duration.ofSeconds(30).toMillis());

    assertThat(afterChange).hasSizeGreaterThanOrEqualTo(200).allMatch("false 10"::equals);
  }
}
