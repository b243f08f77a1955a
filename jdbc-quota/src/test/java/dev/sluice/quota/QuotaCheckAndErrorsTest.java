package dev.sluice.quota;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.QuotaDecision;
import dev.sluice.QuotaStoreException;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Issue 11 items 5 and 10: the dry-run check, and what operators' mistakes throw. */
class QuotaCheckAndErrorsTest {
  private static QuotaDatabase pg;
  private static HikariDataSource pool;
  private static QuotaFixtures fx;
  private static AtomicQuotaRepository quotas;

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
    pool = pg.pool("quota-check", 4);
    fx = new QuotaFixtures(pg);
    quotas = AtomicQuotaRepository.create(pool);
  }

  @AfterAll
  static void tearDown() {
    if (pool != null) {
      pool.close();
    }
  }

  @Test
  void check_neverChangesUsedNorWritesAnything() {
    String subject = fx.subjectOn(fx.plan(3, "day", "UTC"));
    quotas.consume(subject, "q", 2, "r1");
    String before = pg.queryText("SELECT row(u.*)::text || (SELECT string_agg(row(l.*)::text, ','"
        + " ORDER BY l.id) FROM sluice.quota_ledger l WHERE l.subject = u.subject)"
        + " FROM sluice.quota_usage u WHERE u.subject = '" + subject + "'");

    QuotaDecision one = quotas.check(subject, "q", 1);
    QuotaDecision two = quotas.check(subject, "q", 2);

    assertThat(one).isEqualTo(new QuotaDecision(true, 2, 3, 1, one.resetsAt(), "q"));
    assertThat(two).isEqualTo(new QuotaDecision(false, 2, 3, 1, one.resetsAt(), "q"));
    assertThat(pg.queryText("SELECT row(u.*)::text || (SELECT string_agg(row(l.*)::text, ','"
        + " ORDER BY l.id) FROM sluice.quota_ledger l WHERE l.subject = u.subject)"
        + " FROM sluice.quota_usage u WHERE u.subject = '" + subject + "'")).isEqualTo(before);
  }

  @Test
  void check_beforeEveryConsume_refusesExactlyWhenConsumeRefuses() {
    String plan = fx.plan(12, "hour", "Europe/Berlin");
    String subject = fx.subjectOn(plan);
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-10-27T00:10:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();
    Random random = new Random(11);
    Instant t = Instant.parse("2030-10-27T00:10:00Z"); // crosses Berlin's fall-back at 01:00Z
    int refused = 0;
    int allowed = 0;

    for (int step = 0; step < 120; step++) {
      t = t.plusSeconds(random.nextInt(120));
      clock.set(t.toString());
      if (step == 60) { // the operator changes the unit mid-window: the carried usage must agree
        pg.execute("UPDATE sluice.plan_quota SET window_unit = 'day' WHERE plan = '" + plan + "'");
      }
      int amount = 1 + random.nextInt(3);
      long storedBefore = fx.storedUsed(subject);
      QuotaDecision checked = repo.check(subject, "q", amount);
      assertThat(fx.storedUsed(subject)).isEqualTo(storedBefore);
      QuotaDecision consumed = repo.consume(subject, "q", amount, null);

      assertThat(consumed.allowed()).as("step %d at %s, amount %d", step, t, amount)
          .isEqualTo(checked.allowed());
      if (consumed.allowed()) {
        assertThat(consumed.used()).isEqualTo(checked.used() + amount);
        assertThat(consumed.resetsAt()).isEqualTo(checked.resetsAt());
        allowed++;
      } else {
        assertThat(consumed).isEqualTo(checked);
        refused++;
      }
    }
    assertThat(allowed).isPositive();
    assertThat(refused).isPositive();
  }

  @Test
  void check_subjectWithoutAccount_answersAsTheFreePlanAndCreatesNoAccount() {
    String stranger = QuotaDatabase.unique("stranger");

    QuotaDecision d = quotas.check(stranger, "chat", 3);

    assertThat(d.allowed()).isTrue();
    assertThat(d.used()).isZero();
    assertThat(d.limit()).isEqualTo(3);
    assertThat(quotas.check(stranger, "chat", 4).allowed()).isFalse();
    assertThat(pg.queryLong("SELECT count(*) FROM sluice.subject WHERE subject = '" + stranger
        + "'")).isZero();
  }

  @Test
  void check_invalidArguments_throwIllegalArgumentNamingTheArgument() {
    assertThatThrownBy(() -> quotas.check(" ", "chat", 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("subject");
    assertThatThrownBy(() -> quotas.check("u", "", 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("quota");
    assertThatThrownBy(() -> quotas.check("u", "chat", 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("amount");
  }

  @Test
  void planQuota_unknownTimeZone_isRefusedOnWriteNamingZonePlanAndQuota() {
    String plan = fx.plan(3, "day", "UTC");

    assertThatThrownBy(() -> pg.executeOrThrow("INSERT INTO sluice.plan_quota"
        + " (plan, quota, allowance, time_zone)"
        + " VALUES ('" + plan + "', 'chat', 3, 'Mars/Olympus')"))
        .isInstanceOfSatisfying(SQLException.class, e -> {
          assertThat(e.getSQLState()).isEqualTo("22023");
          assertThat(e.getMessage()).contains("\"Mars/Olympus\"", plan, "\"chat\"",
              "not recognized");
        });
    assertThatThrownBy(() -> pg.executeOrThrow("UPDATE sluice.plan_quota SET time_zone = 'UTC+3'"
        + " WHERE plan = '" + plan + "'"))
        .isInstanceOfSatisfying(SQLException.class,
            e -> assertThat(e.getMessage()).contains("\"UTC+3\"", plan, "\"q\""));
    pg.execute("UPDATE sluice.plan_quota SET time_zone = 'Asia/Kolkata' WHERE plan = '" + plan
        + "'; INSERT INTO sluice.plan_quota (plan, quota, allowance, time_zone) VALUES ('" + plan
        + "', 'r', 1, 'Etc/GMT+3')");
    assertThat(pg.queryText("SELECT string_agg(time_zone, ',' ORDER BY quota)"
        + " FROM sluice.plan_quota WHERE plan = '" + plan + "'"))
        .isEqualTo("Asia/Kolkata,Etc/GMT+3");
  }

  @Test
  void everyCall_storedUnknownTimeZone_throwsConfigurationExceptionNamingTheZone() {
    String plan = fx.plan(3, "day", "UTC");
    String subject = fx.subjectOn(plan);
    quotas.consume(subject, "q", 1, "before");
    // A zone stored before V5 (or PostgreSQL's time zone data changed): skip the trigger.
    pg.execute("SET session_replication_role = replica; UPDATE sluice.plan_quota"
        + " SET time_zone = 'Mars/Olympus' WHERE plan = '" + plan + "'");
    // The trigger that unlabels counters was skipped too: a consume is still answered from the
    // counter's cached window (computed while the zone was known) until the plan is read again,
    // as after any later change of any plan (V8).
    assertThat(quotas.consume(subject, "q").allowed()).isTrue();
    pg.execute("UPDATE sluice.quota_config_version SET version = version + 1");

    List<Runnable> calls = List.of(
        () -> quotas.consume(subject, "q"),
        () -> quotas.check(subject, "q", 1),
        () -> quotas.refund(subject, "q", "before"),
        () -> quotas.status(subject, "q"),
        quotas::resetExpiredWindows);
    try {
      for (Runnable call : calls) {
        assertThatThrownBy(call::run)
            .isInstanceOfSatisfying(QuotaConfigurationException.class, e -> {
              assertThat(e.outcomeKnown()).isTrue();
              assertThat(e.getMessage()).contains("Mars/Olympus", "misconfigured");
            });
      }
      assertThatThrownBy(() -> quotas.consume(subject, "q"))
          .hasMessageStartingWith("consume of 'q' for '" + subject + "' failed");
      assertThat(fx.storedUsed(subject)).isEqualTo(2); // "before" and the one cached answer
    } finally {
      // The reset covers every plan: leave none broken for the other tests.
      pg.execute("UPDATE sluice.plan_quota SET time_zone = 'UTC' WHERE plan = '" + plan + "'");
    }
  }

  @Test
  void everyCall_planWithoutTheQuota_throwsConfigurationExceptionNamingSubjectAndQuota() {
    String subject = fx.subjectOn(fx.plan(3, "day", "UTC"));
    quotas.consume(subject, "q", 1, "before");
    String other = fx.plan(3, "day", "UTC");
    pg.execute("UPDATE sluice.subject SET plan = '" + other + "' WHERE subject = '" + subject
        + "'; DELETE FROM sluice.plan_quota WHERE plan = '" + other + "'");

    List<Runnable> calls = List.of(
        () -> quotas.consume(subject, "q"),
        () -> quotas.check(subject, "q", 1),
        () -> quotas.refund(subject, "q", "before"),
        () -> quotas.consume(QuotaDatabase.unique("newcomer"), "no-such-quota"));
    for (Runnable call : calls) {
      assertThatThrownBy(call::run)
          .isInstanceOfSatisfying(QuotaConfigurationException.class, e -> {
            assertThat(e.outcomeKnown()).isTrue();
            assertThat(e.getMessage()).containsPattern("quota \"(q|no-such-quota)\" is not"
                + " defined for the plan of subject");
          });
    }
    assertThat(quotas.status(subject, "q")).isEmpty();
    assertThat(fx.storedUsed(subject)).isOne();
  }

  @Test
  void consume_anyOtherDatabaseError_isAQuotaStoreExceptionNotAnIllegalArgument() {
    AtomicQuotaRepository stranger = AtomicQuotaRepository.create(
        QuotaDatabase.dataSource(pg.url(), "sluice_no_such_role_" + System.nanoTime()));

    assertThatThrownBy(() -> stranger.check("u", "chat", 1))
        .isExactlyInstanceOf(QuotaStoreException.class)
        .hasMessageContaining("check of 'chat' for 'u' failed");
  }
}
