package dev.sluice.quota;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.QuotaDecision;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Issue 13, correctness items 1 and 4: which window a counter belongs to. */
class QuotaWindowTest {
  private static QuotaDatabase pg;
  private static HikariDataSource pool;
  private static QuotaFixtures fx;

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
    pool = pg.pool("quota-window", 4);
    fx = new QuotaFixtures(pg);
  }

  @AfterAll
  static void tearDown() {
    if (pool != null) {
      pool.close();
    }
  }

  private static void setUnit(String plan, String unit) {
    pg.execute("UPDATE sluice.plan_quota SET window_unit = '" + unit + "' WHERE plan = '" + plan
        + "'");
  }

  @Test
  void unitChangedFromHourToDay_neverGrantsMoreThanTheDailyAllowanceAndAllCallsAgree() {
    String plan = fx.plan(3, "hour", "UTC");
    String subject = fx.subjectOn(plan);
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-05-06T14:10:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();
    for (int i = 0; i < 3; i++) {
      assertThat(repo.consume(subject, "q").allowed()).isTrue();
    }

    clock.set("2030-05-06T14:30:00Z");
    setUnit(plan, "day");
    clock.set("2030-05-06T15:30:00Z");
    Instant midnight = Instant.parse("2030-05-07T00:00:00Z");
    QuotaDecision refused = repo.consume(subject, "q");
    QuotaDecision checked = repo.check(subject, "q", 1);
    QuotaStatus status = repo.status(subject, "q").orElseThrow();
    int moved = repo.resetExpiredWindows();

    assertThat(refused).isEqualTo(new QuotaDecision(false, 3, 3, 0, midnight, "q"));
    assertThat(checked).isEqualTo(refused);
    assertThat(status.used()).isEqualTo(3);
    assertThat(status.resetsAt()).isEqualTo(midnight);
    assertThat(moved).isGreaterThanOrEqualTo(1);
    assertThat(pg.queryText("SELECT used || ' ' || window_end FROM sluice.quota_usage"
        + " WHERE subject = '" + subject + "'")).isEqualTo("3 2030-05-07 00:00:00+00");
    assertThat(repo.consume(subject, "q").allowed()).isFalse();
    clock.set("2030-05-07T00:00:00Z");
    assertThat(repo.consume(subject, "q")).isEqualTo(
        new QuotaDecision(true, 1, 3, 2, Instant.parse("2030-05-08T00:00:00Z"), "q"));
  }

  @Test
  void unitChangedFromHourToDay_carriesEveryUnitUsedEarlierThatDay() {
    String plan = fx.plan(3, "hour", "UTC");
    String subject = fx.subjectOn(plan);
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-05-06T09:10:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();
    repo.consume(subject, "q", 2, null);
    clock.set("2030-05-06T14:10:00Z");
    repo.consume(subject, "q", 1, "refunded");
    repo.refund(subject, "q", "refunded");
    repo.consume(subject, "q", 1, null);

    setUnit(plan, "day");
    clock.set("2030-05-06T14:20:00Z");

    assertThat(repo.check(subject, "q", 1)).satisfies(d -> {
      assertThat(d.allowed()).isFalse();
      assertThat(d.used()).isEqualTo(3);
    });
    assertThat(repo.consume(subject, "q").allowed()).isFalse();
  }

  @Test
  void unitChangedFromDayToWeek_countsIntoTheCurrentWeekAndRefundsIt() {
    String plan = fx.plan(3, "day", "UTC");
    String subject = fx.subjectOn(plan);
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-05-06T10:00:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();
    repo.consume(subject, "q"); // Monday

    setUnit(plan, "week");
    clock.set("2030-05-08T10:00:00Z"); // Wednesday
    QuotaDecision wednesday = repo.consume(subject, "q", 1, "wed");
    clock.set("2030-05-08T10:00:01Z");
    boolean refunded = repo.refund(subject, "q", "wed");

    Instant nextMonday = Instant.parse("2030-05-13T00:00:00Z");
    assertThat(wednesday).isEqualTo(new QuotaDecision(true, 2, 3, 1, nextMonday, "q"));
    assertThat(refunded).isTrue();
    assertThat(repo.status(subject, "q").orElseThrow().used()).isOne();
    assertThat(fx.storedUsed(subject)).isOne();
    assertThat(fx.ledgerSum(subject)).isZero(); // Monday's consume had no request id (V8)
  }

  /**
   * V8's rule for a window holding units on both sides of the new window's start: all of them
   * are carried (never more than was used, never an overshoot of the new window).
   */
  @Test
  void unitChangedFromDayToHour_unitsOnBothSidesOfTheHoursStart_carriesAllOfThem() {
    String plan = fx.plan(3, "day", "UTC");
    String subject = fx.subjectOn(plan);
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-05-06T09:00:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();
    repo.consume(subject, "q", 2, null);
    clock.set("2030-05-06T14:10:00Z");
    repo.consume(subject, "q", 1, "late");

    setUnit(plan, "hour");
    clock.set("2030-05-06T14:40:00Z");
    QuotaDecision d = repo.consume(subject, "q");

    Instant end = Instant.parse("2030-05-06T15:00:00Z");
    assertThat(d).isEqualTo(new QuotaDecision(false, 3, 3, 0, end, "q"));
    assertThat(repo.refund(subject, "q", "late")).isTrue();
    assertThat(repo.status(subject, "q").orElseThrow().used()).isEqualTo(2);
    clock.set("2030-05-06T15:00:00Z");
    assertThat(repo.consume(subject, "q")).isEqualTo(new QuotaDecision(true, 1, 3, 2,
        Instant.parse("2030-05-06T16:00:00Z"), "q"));
  }

  /** The exact case of the same change: nothing was counted since the new window began. */
  @Test
  void unitChangedFromDayToHour_nothingUsedSinceTheHourBegan_carriesNothing() {
    String plan = fx.plan(3, "day", "UTC");
    String subject = fx.subjectOn(plan);
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-05-06T09:00:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();
    repo.consume(subject, "q", 3, null);

    setUnit(plan, "hour");
    clock.set("2030-05-06T14:40:00Z");

    assertThat(repo.consume(subject, "q")).isEqualTo(new QuotaDecision(true, 1, 3, 2,
        Instant.parse("2030-05-06T15:00:00Z"), "q"));
  }

  /**
   * Hour -> day after several hours: the ended hours' usage is kept when the counter moves on
   * (sluice.quota_window_usage, V8), so the day counts every one of them.
   */
  @Test
  void unitChangedFromHourToDay_afterSeveralHours_countsEveryEndedHourOfTheDay() {
    String plan = fx.plan(4, "hour", "UTC");
    String subject = fx.subjectOn(plan);
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-05-05T23:30:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();
    repo.consume(subject, "q", 4, null); // the day before: not in today's window
    clock.set("2030-05-06T08:10:00Z");
    repo.consume(subject, "q", 2, null);
    clock.set("2030-05-06T09:10:00Z");
    repo.consume(subject, "q", 1, null);
    clock.set("2030-05-06T11:10:00Z");
    repo.consume(subject, "q", 1, null);

    pg.execute("UPDATE sluice.plan_quota SET window_unit = 'day', allowance = 5 WHERE plan = '"
        + plan + "'");
    clock.set("2030-05-06T11:20:00Z");
    Instant midnight = Instant.parse("2030-05-07T00:00:00Z");

    assertThat(repo.status(subject, "q").orElseThrow().used()).isEqualTo(4);
    assertThat(repo.consume(subject, "q")).isEqualTo(new QuotaDecision(true, 5, 5, 0, midnight,
        "q"));
    assertThat(repo.consume(subject, "q").allowed()).isFalse();
  }

  /**
   * A consume in the stored window skips the window computation when the counter's label (unit
   * and zone its window was computed with) matches the plan (V7). A refund that moved the window
   * while the plan had another unit must not leave a label that would later vouch for that window.
   */
  @Test
  void unitChangedDayToHourAndBack_afterARefundMovedTheWindow_countsIntoTheDay() {
    String plan = fx.plan(3, "day", "UTC");
    String subject = fx.subjectOn(plan);
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-05-06T14:10:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();
    repo.consume(subject, "q", 1, "a");
    repo.consume(subject, "q", 1, "b");
    setUnit(plan, "hour");
    clock.set("2030-05-06T14:20:00Z");
    assertThat(repo.refund(subject, "q", "b")).isTrue(); // moves the counter to 14:00-15:00

    setUnit(plan, "day");
    clock.set("2030-05-06T14:30:00Z");
    QuotaDecision d = repo.consume(subject, "q");
    clock.set("2030-05-06T15:30:00Z");
    QuotaDecision later = repo.consume(subject, "q");

    Instant midnight = Instant.parse("2030-05-07T00:00:00Z");
    assertThat(d).isEqualTo(new QuotaDecision(true, 2, 3, 1, midnight, "q"));
    assertThat(later).isEqualTo(new QuotaDecision(true, 3, 3, 0, midnight, "q"));
    assertThat(repo.consume(subject, "q").allowed()).isFalse();
    assertThat(fx.storedUsed(subject)).isEqualTo(3);
    assertThat(fx.ledgerSum(subject)).isOne(); // "a"; "b" was refunded, the others had no id
  }

  @Test
  void consume_inTheStoredWindow_labelsTheCounterAndAnswersAsTheFullPath() {
    String plan = fx.plan(5, "hour", "America/New_York");
    String subject = fx.subjectOn(plan);
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-11-03T05:30:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();

    QuotaDecision first = repo.consume(subject, "q"); // 01:30 EDT: first use, full path
    clock.set("2030-11-03T06:40:00Z"); // 01:40 EST, the repeated hour: same window, one statement
    QuotaDecision second = repo.consume(subject, "q", 2, "r");
    QuotaDecision replay = repo.consume(subject, "q", 2, "r");

    Instant end = Instant.parse("2030-11-03T07:00:00Z");
    assertThat(pg.queryText("SELECT window_unit || ' ' || time_zone FROM sluice.quota_usage"
        + " WHERE subject = '" + subject + "'")).isEqualTo("hour America/New_York");
    assertThat(first).isEqualTo(new QuotaDecision(true, 1, 5, 4, end, "q"));
    assertThat(second).isEqualTo(new QuotaDecision(true, 3, 5, 2, end, "q"));
    assertThat(replay).isEqualTo(second);
    assertThat(fx.ledgerSum(subject)).isEqualTo(2); // the first consume had no request id
  }

  @Test
  void refund_afterTheStoredWindowEndedButInsideTheNewUnitsWindow_givesBack() {
    String plan = fx.plan(3, "hour", "UTC");
    String subject = fx.subjectOn(plan);
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-05-06T14:10:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();
    repo.consume(subject, "q", 1, "r");
    setUnit(plan, "day");
    clock.set("2030-05-06T15:10:00Z"); // the stored hour has ended; the day has not

    assertThat(repo.refund(subject, "q", "r")).isTrue();
    assertThat(repo.status(subject, "q").orElseThrow().used()).isZero();
    assertThat(repo.refund(subject, "q", "r")).isFalse();
  }

  @Test
  void hourlyWindow_atNewYorkFallBack_containsNowAndNeverOverlaps() {
    String subject = fx.subjectOn(fx.plan(3, "hour", "America/New_York"));
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-11-03T04:30:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();

    QuotaDecision midnightHour = repo.consume(subject, "q"); // 00:30 EDT
    clock.set("2030-11-03T05:30:00Z"); // 01:30 EDT
    QuotaDecision firstOne = repo.consume(subject, "q");
    clock.set("2030-11-03T06:30:00Z"); // 01:30 EST, the repeated hour
    QuotaDecision repeatedOne = repo.consume(subject, "q");
    clock.set("2030-11-03T07:00:00Z"); // 02:00 EST
    QuotaDecision twoOClock = repo.consume(subject, "q");

    assertThat(midnightHour.resetsAt()).isEqualTo(Instant.parse("2030-11-03T05:00:00Z"));
    assertThat(firstOne.resetsAt()).isEqualTo(Instant.parse("2030-11-03T07:00:00Z"));
    assertThat(repeatedOne).isEqualTo(new QuotaDecision(true, 2, 3, 1, firstOne.resetsAt(), "q"));
    assertThat(twoOClock).isEqualTo(new QuotaDecision(true, 1, 3, 2,
        Instant.parse("2030-11-03T08:00:00Z"), "q"));
  }

  /**
   * Every half hour of two years, for every unit, in five zones (UTC, two daylight-saving zones
   * with one-hour shifts, Lord Howe's 30-minute shift, Kolkata's half-hour offset): the window
   * contains the time, ends after it starts, the window at its end starts at its end (so
   * consecutive windows touch and resets_at is the next window's start), and two times in
   * different windows are never inside each other's window (none overlap). One query.
   */
  @Test
  void quotaWindow_everyHalfHourOfTwoYears_windowsContainNowTouchAndNeverOverlap()
      throws Exception {
    String sql = "WITH samples AS ("
        + "  SELECT z.tz, u.unit, t.at, w.window_start AS ws, w.window_end AS we"
        + "    FROM unnest(ARRAY['UTC', 'America/New_York', 'Europe/Berlin',"
        + "                      'Australia/Lord_Howe', 'Asia/Kolkata']) z(tz)"
        + "   CROSS JOIN unnest(ARRAY['hour', 'day', 'week', 'month']) u(unit)"
        + "   CROSS JOIN generate_series(timestamptz '2030-01-01 00:00Z',"
        + "       timestamptz '2031-12-31 23:30Z', interval '30 minutes') t(at)"
        + "   CROSS JOIN LATERAL sluice.quota_window(u.unit, z.tz, t.at) w),"
        + " paired AS ("
        + "  SELECT s.*, lead(ws) OVER o AS next_ws, lead(we) OVER o AS next_we"
        + "    FROM samples s WINDOW o AS (PARTITION BY tz, unit ORDER BY at)),"
        + " distinct_windows AS (SELECT DISTINCT tz, unit, ws, we FROM samples)"
        + " SELECT (SELECT count(*) FROM samples),"
        + "   (SELECT count(*) FROM samples WHERE NOT (ws <= at AND at < we) OR we <= ws),"
        + "   (SELECT count(*) FROM paired WHERE next_ws IS NOT NULL"
        + "      AND NOT ((next_ws = ws AND next_we = we) OR next_ws = we)),"
        + "   (SELECT count(*) FROM distinct_windows d"
        + "      CROSS JOIN LATERAL sluice.quota_window(d.unit, d.tz, d.we) n"
        + "     WHERE n.window_start <> d.we),"
        + "   (SELECT count(*) FROM distinct_windows)";
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      assertThat(rs.getLong(1)).as("samples").isEqualTo(5L * 4 * 35_040);
      assertThat(rs.getLong(2)).as("windows not containing their time").isZero();
      assertThat(rs.getLong(3)).as("consecutive samples in overlapping windows or a gap")
          .isZero();
      assertThat(rs.getLong(4)).as("windows whose end is not the next window's start").isZero();
      assertThat(rs.getLong(5)).as("distinct windows").isGreaterThan(5L * 17_000);
    }
  }
}
