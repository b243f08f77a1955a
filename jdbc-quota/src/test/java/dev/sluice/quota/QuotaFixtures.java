package dev.sluice.quota;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/** Plans, subjects, counters and a settable clock for the quota tests. */
final class QuotaFixtures {
  private final QuotaDatabase pg;

  QuotaFixtures(QuotaDatabase pg) {
    this.pg = pg;
  }

  /** Creates a plan with one quota "q" and returns its name. */
  String plan(int allowance, String unit, String timeZone) {
    String plan = QuotaDatabase.unique("plan");
    pg.execute("INSERT INTO sluice.plan (plan) VALUES ('" + plan + "');"
        + "INSERT INTO sluice.plan_quota (plan, quota, allowance, window_unit, time_zone)"
        + " VALUES ('" + plan + "', 'q', " + allowance + ", '" + unit + "', '" + timeZone + "')");
    return plan;
  }

  String subjectOn(String plan) {
    String subject = QuotaDatabase.unique("subject");
    pg.execute("INSERT INTO sluice.subject (subject, plan) VALUES ('" + subject + "', '" + plan
        + "')");
    return subject;
  }

  /** The stored counter of the subject, whatever window it is in. */
  long storedUsed(String subject) {
    return pg.queryLong("SELECT coalesce(sum(used), 0) FROM sluice.quota_usage WHERE subject = '"
        + subject + "'");
  }

  /** Allowed, unrefunded ledger units of the subject. */
  long ledgerSum(String subject) {
    return pg.queryLong("SELECT coalesce(sum(amount), 0) FROM sluice.quota_ledger WHERE subject = '"
        + subject + "' AND allowed AND refunded_at IS NULL");
  }

  long ledgerRows(String subject) {
    return pg.queryLong("SELECT count(*) FROM sluice.quota_ledger WHERE subject = '" + subject
        + "'");
  }

  /** A clock tests set by hand. */
  static final class MutableClock extends Clock {
    private final AtomicReference<Instant> now;

    MutableClock(String start) {
      this.now = new AtomicReference<>(Instant.parse(start));
    }

    void set(String instant) {
      now.set(Instant.parse(instant));
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
}
