package dev.sluice.quota;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.QuotaDecision;
import dev.sluice.QuotaStoreException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AtomicQuotaRepositoryTest {
  private static QuotaDatabase pg;
  private static HikariDataSource poolA;
  private static HikariDataSource poolB;
  private static AtomicQuotaRepository quotas;

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
    poolA = pg.pool("quota-a", 8);
    poolB = pg.pool("quota-b", 8);
    quotas = AtomicQuotaRepository.create(poolA);
  }

  @AfterAll
  static void tearDown() {
    if (poolA != null) {
      poolA.close();
    }
    if (poolB != null) {
      poolB.close();
    }
  }

  /** Creates a plan with one quota "q" and returns its name. */
  private static String plan(int allowance, String unit, String timeZone) {
    String plan = QuotaDatabase.unique("plan");
    pg.execute("INSERT INTO sluice.plan (plan) VALUES ('" + plan + "');"
        + "INSERT INTO sluice.plan_quota (plan, quota, allowance, window_unit, time_zone)"
        + " VALUES ('" + plan + "', 'q', " + allowance + ", '" + unit + "', '" + timeZone + "')");
    return plan;
  }

  private static String subjectOn(String plan) {
    String subject = QuotaDatabase.unique("subject");
    pg.execute("INSERT INTO sluice.subject (subject, plan) VALUES ('" + subject + "', '" + plan
        + "')");
    return subject;
  }

  private static final class MutableClock extends Clock {
    private final AtomicReference<Instant> now;

    MutableClock(Instant start) {
      this.now = new AtomicReference<>(start);
    }

    void set(Instant instant) {
      now.set(instant);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Instant instant() {
      return now.get();
    }
  }

  private static <T> List<T> race(int threads, Callable<T> task) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CyclicBarrier start = new CyclicBarrier(threads);
      List<Future<T>> futures = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        futures.add(pool.submit(() -> {
          start.await(10, SECONDS);
          return task.call();
        }));
      }
      List<T> results = new ArrayList<>();
      for (Future<T> f : futures) {
        results.add(f.get(60, SECONDS));
      }
      return results;
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void consume_freePlan_allowsThreeChatsPerDayThenRefuses() {
    String user = QuotaDatabase.unique("user");
    MutableClock clock = new MutableClock(Instant.parse("2030-01-15T10:00:00Z"));
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(poolA).clock(clock).build();

    List<QuotaDecision> decisions = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      decisions.add(repo.consume(user, "chat"));
    }

    Instant midnight = Instant.parse("2030-01-16T00:00:00Z");
    assertThat(decisions).extracting(QuotaDecision::allowed).containsExactly(true, true, true,
        false);
    assertThat(decisions).extracting(QuotaDecision::remaining).containsExactly(2L, 1L, 0L, 0L);
    assertThat(decisions.get(3)).isEqualTo(new QuotaDecision(false, 3, 3, 0, midnight, "chat"));
    assertThat(pg.queryLong("SELECT count(*) FROM sluice.subject WHERE subject = '" + user
        + "' AND plan = 'free'")).isEqualTo(1);
  }

  @Test
  void consume_64ThreadsOverTwoPools_allowExactlyTheAllowance() throws Exception {
    String subject = subjectOn(plan(3, "day", "UTC"));
    AtomicQuotaRepository viaA = AtomicQuotaRepository.create(poolA);
    AtomicQuotaRepository viaB = AtomicQuotaRepository.create(poolB);
    AtomicInteger next = new AtomicInteger();

    List<QuotaDecision> decisions = race(64,
        () -> (next.getAndIncrement() % 2 == 0 ? viaA : viaB).consume(subject, "q"));

    assertThat(decisions).filteredOn(QuotaDecision::allowed).hasSize(3);
    assertThat(decisions).filteredOn(d -> !d.allowed()).hasSize(61)
        .allSatisfy(d -> assertThat(d.used()).isEqualTo(3));
    assertThat(decisions).filteredOn(QuotaDecision::allowed).extracting(QuotaDecision::used)
        .containsExactlyInAnyOrder(1L, 2L, 3L);
    assertThat(used(subject)).isEqualTo(3);
    assertThat(ledgerSum(subject)).as("consumes without a request id write no ledger row").isZero();
  }

  @Test
  void consume_concurrentFirstUse_createsOneAccountAndAllowsExactlyTheAllowance()
      throws Exception {
    String subject = QuotaDatabase.unique("newcomer");

    List<QuotaDecision> decisions = race(32, () -> quotas.consume(subject, "chat"));

    assertThat(decisions).filteredOn(QuotaDecision::allowed).hasSize(3);
    assertThat(pg.queryLong("SELECT count(*) FROM sluice.subject WHERE subject = '" + subject
        + "'")).isEqualTo(1);
    assertThat(used(subject)).isEqualTo(3);
  }

  @Test
  void consume_1000Subjects_eachGetsExactlyItsAllowanceAndLedgerAgrees() throws Exception {
    String plan = plan(2, "day", "UTC");
    int subjects = 1000;
    List<String> names = new ArrayList<>();
    StringBuilder sql = new StringBuilder();
    for (int i = 0; i < subjects; i++) {
      String s = "bulk_" + plan + "_" + i;
      names.add(s);
      sql.append("INSERT INTO sluice.subject (subject, plan) VALUES ('").append(s).append("', '")
          .append(plan).append("');");
      if (i % 4 != 0) { // three in four subjects have a personal allowance of 1..3
        sql.append("INSERT INTO sluice.subject_quota_override VALUES ('").append(s)
            .append("', 'q', ").append(i % 4).append(");");
      }
    }
    pg.execute(sql.toString());
    AtomicInteger next = new AtomicInteger();
    int attemptsPerSubject = 4;
    AtomicQuotaRepository viaB = AtomicQuotaRepository.create(poolB);

    List<Integer> allowedPerThread = race(16, () -> {
      int allowed = 0;
      for (int n; (n = next.getAndIncrement()) < subjects * attemptsPerSubject; ) {
        AtomicQuotaRepository repo = n % 2 == 0 ? quotas : viaB;
        if (repo.consume(names.get(n % subjects), "q", 1, "n" + n).allowed()) {
          allowed++;
        }
      }
      return allowed;
    });

    long expected = 0;
    for (int i = 0; i < subjects; i++) {
      int allowance = i % 4 == 0 ? 2 : i % 4;
      expected += allowance;
      assertThat(used(names.get(i))).as(names.get(i)).isEqualTo(allowance);
    }
    assertThat(allowedPerThread.stream().mapToInt(Integer::intValue).sum()).isEqualTo(expected);
    assertThat(pg.queryLong("SELECT count(*) FROM sluice.quota_usage u WHERE u.subject LIKE 'bulk_"
        + plan + "_%' AND u.used <> (SELECT coalesce(sum(l.amount), 0) FROM sluice.quota_ledger l"
        + " WHERE l.subject = u.subject AND l.quota = u.quota AND l.allowed"
        + " AND l.refunded_at IS NULL AND l.window_start = u.window_start)")).isZero();
  }

  @Test
  void consume_afterWindowEnds_startsFromZeroWithoutSleeping() {
    String subject = subjectOn(plan(2, "day", "UTC"));
    MutableClock clock = new MutableClock(Instant.parse("2030-03-01T23:59:59Z"));
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(poolA).clock(clock).build();
    repo.consume(subject, "q");
    repo.consume(subject, "q");
    assertThat(repo.consume(subject, "q").allowed()).isFalse();

    clock.set(Instant.parse("2030-03-02T00:00:00Z"));
    QuotaDecision next = repo.consume(subject, "q");

    assertThat(next).isEqualTo(
        new QuotaDecision(true, 1, 2, 1, Instant.parse("2030-03-03T00:00:00Z"), "q"));
  }

  @Test
  void consume_withEarlierNowThanStoredWindow_countsIntoStoredWindowAndNeverResets() {
    String subject = subjectOn(plan(2, "day", "UTC"));
    MutableClock clock = new MutableClock(Instant.parse("2030-03-02T08:00:00Z"));
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(poolA).clock(clock).build();
    repo.consume(subject, "q");
    repo.consume(subject, "q");

    clock.set(Instant.parse("2030-03-01T23:00:00Z")); // a skewed instance, one window behind
    QuotaDecision late = repo.consume(subject, "q");

    assertThat(late.allowed()).isFalse();
    assertThat(late.used()).isEqualTo(2);
    assertThat(late.resetsAt()).isEqualTo(Instant.parse("2030-03-03T00:00:00Z"));
  }

  @Test
  void consume_inConfiguredTimeZone_resetsAtLocalMidnight() {
    String subject = subjectOn(plan(1, "day", "Europe/Berlin"));
    MutableClock clock = new MutableClock(Instant.parse("2030-06-10T21:30:00Z")); // 23:30 local
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(poolA).clock(clock).build();

    QuotaDecision first = repo.consume(subject, "q");
    clock.set(Instant.parse("2030-06-10T22:00:00Z")); // 00:00 local: a new day
    QuotaDecision second = repo.consume(subject, "q");

    assertThat(first.allowed()).isTrue();
    assertThat(first.resetsAt()).isEqualTo(Instant.parse("2030-06-10T22:00:00Z"));
    assertThat(second.allowed()).isTrue();
    assertThat(second.resetsAt()).isEqualTo(Instant.parse("2030-06-11T22:00:00Z"));
  }

  @Test
  void consume_hourlyWindow_resetsOnTheHour() {
    String subject = subjectOn(plan(1, "hour", "UTC"));
    MutableClock clock = new MutableClock(Instant.parse("2030-06-10T10:59:59.999Z"));
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(poolA).clock(clock).build();

    assertThat(repo.consume(subject, "q").allowed()).isTrue();
    assertThat(repo.consume(subject, "q").allowed()).isFalse();
    clock.set(Instant.parse("2030-06-10T11:00:00Z"));

    assertThat(repo.consume(subject, "q").resetsAt())
        .isEqualTo(Instant.parse("2030-06-10T12:00:00Z"));
  }

  @Test
  void consume_planAllowanceChanged_appliesToAllItsSubjectsWithoutTouchingTheirRows() {
    String plan = plan(1000, "day", "UTC"); // the original's bug
    String a = subjectOn(plan);
    String b = subjectOn(plan);
    quotas.consume(a, "q");
    quotas.consume(b, "q");

    pg.execute("UPDATE sluice.plan_quota SET allowance = 3 WHERE plan = '" + plan + "'");

    assertThat(quotas.consume(a, "q")).satisfies(d -> {
      assertThat(d.limit()).isEqualTo(3);
      assertThat(d.remaining()).isEqualTo(1);
    });
    quotas.consume(b, "q");
    assertThat(quotas.consume(b, "q").allowed()).isTrue();
    assertThat(quotas.consume(b, "q").allowed()).isFalse();
  }

  @Test
  void consume_subjectOverride_replacesThePlanAllowance() {
    String subject = subjectOn(plan(1, "day", "UTC"));
    pg.execute("INSERT INTO sluice.subject_quota_override VALUES ('" + subject + "', 'q', 5)");

    QuotaDecision d = quotas.consume(subject, "q", 5, null);

    assertThat(d.allowed()).isTrue();
    assertThat(d.limit()).isEqualTo(5);
    assertThat(d.remaining()).isZero();
  }

  @Test
  void consume_amountAboveRemaining_isRefusedWithoutPartialCharge() {
    String subject = subjectOn(plan(3, "day", "UTC"));
    quotas.consume(subject, "q", 2, null);

    QuotaDecision d = quotas.consume(subject, "q", 2, null);

    assertThat(d.allowed()).isFalse();
    assertThat(d.used()).isEqualTo(2);
    assertThat(d.remaining()).isEqualTo(1);
    assertThat(quotas.consume(subject, "q", 4, null).allowed()).isFalse();
    assertThat(used(subject)).isEqualTo(2);
  }

  @Test
  void consume_sameRequestIdTwice_countsOnceAndAnswersTheSame() {
    String subject = subjectOn(plan(3, "day", "UTC"));

    QuotaDecision first = quotas.consume(subject, "q", 1, "req-1");
    quotas.consume(subject, "q", 1, "req-2");
    QuotaDecision retry = quotas.consume(subject, "q", 1, "req-1");

    assertThat(retry).isEqualTo(first);
    assertThat(first.used()).isEqualTo(1);
    assertThat(used(subject)).isEqualTo(2);
  }

  @Test
  void consume_sameRequestIdFrom16ThreadsAtOnce_countsOnce() throws Exception {
    String subject = subjectOn(plan(3, "day", "UTC"));

    List<QuotaDecision> decisions = race(16, () -> quotas.consume(subject, "q", 1, "dup"));

    assertThat(decisions).allSatisfy(d -> assertThat(d).isEqualTo(decisions.get(0)));
    assertThat(decisions.get(0).allowed()).isTrue();
    assertThat(used(subject)).isEqualTo(1);
  }

  @Test
  void consume_refusedRequestRetried_answersRefusedAgainEvenAfterRefund() {
    String subject = subjectOn(plan(1, "day", "UTC"));
    quotas.consume(subject, "q", 1, "a");
    QuotaDecision refused = quotas.consume(subject, "q", 1, "b");
    quotas.refund(subject, "q", "a");

    QuotaDecision retried = quotas.consume(subject, "q", 1, "b");

    assertThat(refused.allowed()).isFalse();
    assertThat(retried).isEqualTo(refused);
    assertThat(used(subject)).isZero();
  }

  @Test
  void consume_refundedRequestRetried_chargesAgainOnceAndAnswersTheSameAfterwards() {
    String subject = subjectOn(plan(3, "day", "UTC"));
    QuotaDecision first = quotas.consume(subject, "q", 2, "work");
    quotas.refund(subject, "q", "work");

    QuotaDecision retried = quotas.consume(subject, "q", 2, "work");
    QuotaDecision again = quotas.consume(subject, "q", 2, "work");

    assertThat(first.used()).isEqualTo(2);
    assertThat(retried).isEqualTo(first);
    assertThat(again).isEqualTo(retried);
    assertThat(used(subject)).isEqualTo(2);
    assertThat(ledgerSum(subject)).isEqualTo(2);
    assertThat(quotas.refund(subject, "q", "work")).isTrue();
    assertThat(used(subject)).isZero();
  }

  @Test
  void consume_refundedRequestRetriedFrom16ThreadsAtOnce_chargesExactlyOnce() throws Exception {
    String subject = subjectOn(plan(3, "day", "UTC"));
    quotas.consume(subject, "q", 1, "work");
    quotas.refund(subject, "q", "work");

    List<QuotaDecision> decisions = race(16, () -> quotas.consume(subject, "q", 1, "work"));

    assertThat(decisions).allSatisfy(d -> assertThat(d).isEqualTo(decisions.get(0)));
    assertThat(decisions.get(0).allowed()).isTrue();
    assertThat(used(subject)).isOne();
    assertThat(ledgerSum(subject)).isOne();
  }

  @Test
  void consume_refundedRequestRetriedWhenNothingIsLeft_isRefusedAndChargesNothing() {
    String subject = subjectOn(plan(1, "day", "UTC"));
    quotas.consume(subject, "q", 1, "a");
    quotas.refund(subject, "q", "a");
    quotas.consume(subject, "q", 1, "b");

    QuotaDecision retried = quotas.consume(subject, "q", 1, "a");

    assertThat(retried.allowed()).isFalse();
    assertThat(retried.used()).isOne();
    assertThat(quotas.consume(subject, "q", 1, "a")).isEqualTo(retried);
    assertThat(quotas.refund(subject, "q", "a")).isFalse();
    assertThat(used(subject)).isOne();
    assertThat(ledgerSum(subject)).isOne();
  }

  @Test
  void refund_twice_givesBackOnceAndNeverGoesNegative() {
    String subject = subjectOn(plan(3, "day", "UTC"));
    quotas.consume(subject, "q", 2, "work-1");

    boolean first = quotas.refund(subject, "q", "work-1");
    boolean second = quotas.refund(subject, "q", "work-1");

    assertThat(first).isTrue();
    assertThat(second).isFalse();
    assertThat(used(subject)).isZero();
    assertThat(quotas.refund(subject, "q", "never-made")).isFalse();
  }

  @Test
  void refund_concurrently_givesBackExactlyOnce() throws Exception {
    String subject = subjectOn(plan(3, "day", "UTC"));
    quotas.consume(subject, "q", 1, "x");
    quotas.consume(subject, "q", 1, "y");

    List<Boolean> results = race(16, () -> quotas.refund(subject, "q", "x"));

    assertThat(results).filteredOn(Boolean::booleanValue).hasSize(1);
    assertThat(used(subject)).isEqualTo(1);
  }

  @Test
  void refund_afterRollover_neverRefundsIntoTheLaterWindow() {
    String subject = subjectOn(plan(2, "day", "UTC"));
    MutableClock clock = new MutableClock(Instant.parse("2030-04-01T12:00:00Z"));
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(poolA).clock(clock).build();
    repo.consume(subject, "q", 1, "yesterday");

    clock.set(Instant.parse("2030-04-02T00:00:01Z"));
    boolean beforeAnyNewConsume = repo.refund(subject, "q", "yesterday");
    repo.consume(subject, "q", 1, "today");
    boolean afterNewConsume = repo.refund(subject, "q", "yesterday");

    assertThat(beforeAnyNewConsume).isFalse();
    assertThat(afterNewConsume).isFalse();
    assertThat(repo.status(subject, "q")).hasValueSatisfying(s -> assertThat(s.used()).isOne());
  }

  @Test
  void consume_thenRefund_ledgerAgreesWithCounter() {
    String subject = subjectOn(plan(5, "day", "UTC"));
    quotas.consume(subject, "q", 1, "r0");
    quotas.consume(subject, "q", 2, "r1");
    quotas.consume(subject, "q", 1, "r2");
    quotas.refund(subject, "q", "r1");

    assertThat(used(subject)).isEqualTo(2);
    assertThat(ledgerSum(subject)).isEqualTo(2);
  }

  @Test
  void status_manySubjectsInOneCall_reportsInOrderWithoutConsuming() {
    String plan = plan(3, "day", "UTC");
    String a = subjectOn(plan);
    String b = subjectOn(plan);
    quotas.consume(a, "q", 2, null);
    String stranger = QuotaDatabase.unique("stranger");

    List<QuotaStatus> all = quotas.status(List.of(b, a), "q");
    List<QuotaStatus> chat = quotas.status(List.of(stranger), "chat");

    assertThat(all).extracting(QuotaStatus::subject).containsExactly(b, a);
    assertThat(all).extracting(QuotaStatus::used).containsExactly(0L, 2L);
    assertThat(all).extracting(QuotaStatus::remaining).containsExactly(3L, 1L);
    assertThat(chat).singleElement().satisfies(s -> {
      assertThat(s.plan()).isEqualTo("free");
      assertThat(s.limit()).isEqualTo(3);
    });
    assertThat(pg.queryLong("SELECT count(*) FROM sluice.subject WHERE subject = '" + stranger
        + "'")).isZero();
  }

  @Test
  void resetExpiredWindows_resetsOnlyEndedWindows() {
    String plan = plan(3, "day", "UTC");
    String old = subjectOn(plan);
    String current = subjectOn(plan);
    MutableClock clock = new MutableClock(Instant.parse("2031-01-01T10:00:00Z"));
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(poolA).clock(clock).build();
    repo.consume(old, "q");
    clock.set(Instant.parse("2031-01-02T10:00:00Z"));
    repo.consume(current, "q");

    int reset = repo.resetExpiredWindows();

    assertThat(reset).isGreaterThanOrEqualTo(1);
    assertThat(pg.queryLong("SELECT used FROM sluice.quota_usage WHERE subject = '" + old + "'"))
        .isZero();
    assertThat(used(current)).isEqualTo(1);
  }

  @Test
  void consume_invalidArguments_throwIllegalArgumentNamingTheArgument() {
    assertThatThrownBy(() -> quotas.consume(" ", "chat")).isInstanceOf(
        IllegalArgumentException.class).hasMessageContaining("subject");
    assertThatThrownBy(() -> quotas.consume("u", "chat", 0, null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("amount");
    assertThatThrownBy(() -> quotas.consume("u", "chat", 1, ""))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("requestId");
    assertThatThrownBy(() -> quotas.consume(QuotaDatabase.unique("u"), "no-such-quota"))
        .isInstanceOf(QuotaConfigurationException.class).hasMessageContaining("no-such-quota");
  }

  @Test
  void consume_databaseUnreachable_throwsTypedExceptionWithOutcomeKnown() {
    AtomicQuotaRepository down = AtomicQuotaRepository.create(
        QuotaDatabase.dataSource("jdbc:postgresql://127.0.0.1:1/nowhere?connectTimeout=2", null));

    assertThatThrownBy(() -> down.consume("u", "chat"))
        .isInstanceOfSatisfying(QuotaStoreException.class,
            e -> assertThat(e.outcomeKnown()).isTrue());
  }

  @Test
  void consume_backendTerminatedMidStatement_throwsOutcomeUnknownAndNeverDoubleCounts()
      throws Exception {
    String subject = subjectOn(plan(3, "day", "UTC"));
    quotas.consume(subject, "q", 1, "before");
    ExecutorService worker = Executors.newSingleThreadExecutor();
    try (Connection blocker = pg.dataSource().getConnection();
        Statement s = blocker.createStatement()) {
      blocker.setAutoCommit(false);
      s.execute("SELECT * FROM sluice.quota_usage WHERE subject = '" + subject + "' FOR UPDATE");
      Future<QuotaDecision> blocked = worker.submit(() -> quotas.consume(subject, "q", 1, "r"));

      int pid = waitForLockWaiter(s);
      s.execute("SELECT pg_terminate_backend(" + pid + ")");
      blocker.rollback();

      assertThatThrownBy(() -> blocked.get(30, SECONDS))
          .hasCauseInstanceOf(QuotaStoreException.class)
          .satisfies(e -> assertThat(((QuotaStoreException) e.getCause()).outcomeKnown())
              .isFalse());
    } finally {
      worker.shutdownNow();
    }
    assertThat(used(subject)).isEqualTo(1);

    QuotaDecision retried = quotas.consume(subject, "q", 1, "r");
    QuotaDecision again = quotas.consume(subject, "q", 1, "r");

    assertThat(retried.allowed()).isTrue();
    assertThat(again).isEqualTo(retried);
    assertThat(used(subject)).isEqualTo(2);
    assertThat(ledgerSum(subject)).isEqualTo(2);
  }

  /** Polls (bounded) until a consume_quota call waits on a lock; returns its backend pid. */
  private static int waitForLockWaiter(Statement s) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline) {
      try (ResultSet rs = s.executeQuery("SELECT pid FROM pg_stat_activity"
          + " WHERE wait_event_type = 'Lock' AND query LIKE '%consume_quota%'"
          + " AND datname = current_database() AND pid <> pg_backend_pid()")) {
        if (rs.next()) {
          return rs.getInt(1);
        }
      }
      Thread.onSpinWait();
    }
    throw new AssertionError("no consume_quota call waited on the lock within 30 s");
  }

  private static long used(String subject) {
    return pg.queryLong("SELECT coalesce(sum(used), 0) FROM sluice.quota_usage WHERE subject = '"
        + subject + "'");
  }

  private static long ledgerSum(String subject) {
    return pg.queryLong("SELECT coalesce(sum(amount), 0) FROM sluice.quota_ledger WHERE subject = '"
        + subject + "' AND allowed AND refunded_at IS NULL");
  }
}
