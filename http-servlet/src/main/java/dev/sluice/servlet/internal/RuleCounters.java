package dev.sluice.servlet.internal;

import dev.sluice.servlet.FilterStats;
import java.util.concurrent.atomic.LongAdder;

/** Per-rule counters behind {@link FilterStats}. Thread-safe. */
public final class RuleCounters {
  /** Requests passed to the application. */
  public final LongAdder admitted = new LongAdder();
  /** 429 rate_limited answers. */
  public final LongAdder rateLimited = new LongAdder();
  /** 429 quota_exceeded answers. */
  public final LongAdder quotaExceeded = new LongAdder();
  /** 503 overloaded answers. */
  public final LongAdder shed = new LongAdder();
  /** Store failures. */
  public final LongAdder storeFailures = new LongAdder();
  /** Refusals a shadow rule let through. */
  public final LongAdder shadowRefusals = new LongAdder();
  /** Queued requests whose client left. */
  public final LongAdder abandoned = new LongAdder();

  /**
   * Snapshots the counters.
   *
   * @return the figures
   */
  public FilterStats snapshot() {
    return new FilterStats(admitted.sum(), rateLimited.sum(), quotaExceeded.sum(), shed.sum(),
        storeFailures.sum(), shadowRefusals.sum(), abandoned.sum());
  }

  /**
   * Adds several snapshots.
   *
   * @param parts the snapshots
   * @return their sum
   */
  public static FilterStats sum(Iterable<FilterStats> parts) {
    long a = 0;
    long r = 0;
    long q = 0;
    long s = 0;
    long f = 0;
    long sh = 0;
    long ab = 0;
    for (FilterStats p : parts) {
      a += p.admitted();
      r += p.rateLimited();
      q += p.quotaExceeded();
      s += p.shed();
      f += p.storeFailures();
      sh += p.shadowRefusals();
      ab += p.abandoned();
    }
    return new FilterStats(a, r, q, s, f, sh, ab);
  }
}
