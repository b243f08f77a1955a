package dev.sluice.servlet.internal;

import dev.sluice.RateLimitDecision;
import dev.sluice.servlet.FilterStats;
import dev.sluice.servlet.RateLimitHeaders;
import dev.sluice.servlet.RouteRule;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/** Per-rule counters behind {@link FilterStats}, and the rule's constant header text. Thread-safe. */
public final class RuleCounters {
  private final String policyIp;
  private final String policyUser;
  private final String policyBoth;

  /**
   * Creates the counters of a rule.
   *
   * @param policyIp the per-IP limit's {@code RateLimit-Policy} item, or null
   * @param policyUser the per-user limit's item, or null
   * @param policyBoth both items in order, or null
   */
  public RuleCounters(String policyIp, String policyUser, String policyBoth) {
    this.policyIp = policyIp;
    this.policyUser = policyUser;
    this.policyBoth = policyBoth;
  }

  /**
   * The {@code RateLimit-Policy} value for the decisions a request got: the limits' policies
   * never change, so the text is formatted once per rule rather than per response.
   *
   * @param decisions the decisions, per-IP first
   * @param rule the rule that made them
   * @return the header value
   */
  public String policyHeader(List<RateLimitDecision> decisions, RouteRule rule) {
    if (decisions.size() == 2 && policyBoth != null) {
      return policyBoth;
    }
    if (decisions.size() == 1) {
      String name = decisions.get(0).policy();
      if (policyIp != null && name.equals(rule.perIp().name())) {
        return policyIp;
      }
      if (policyUser != null && name.equals(rule.perUser().name())) {
        return policyUser;
      }
    }
    return RateLimitHeaders.policy(decisions);
  }

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
  /** Exchanges the client broke off while its body arrived or its response was written. */
  public final LongAdder clientAborts = new LongAdder();
  /** 408 body_timeout answers. */
  public final LongAdder bodyTimeouts = new LongAdder();
  /** 413 body_too_large answers. */
  public final LongAdder bodyTooLarge = new LongAdder();
  /** Bodies being read right now (a gauge, not a count). */
  public final LongAdder readingBodies = new LongAdder();
  /** Handlers that threw. */
  public final LongAdder failed = new LongAdder();

  /**
   * Snapshots the counters.
   *
   * @return the figures
   */
  public FilterStats snapshot() {
    return new FilterStats(admitted.sum(), rateLimited.sum(), quotaExceeded.sum(), shed.sum(),
        storeFailures.sum(), shadowRefusals.sum(), abandoned.sum(), clientAborts.sum(),
        bodyTimeouts.sum(), bodyTooLarge.sum(), failed.sum(), readingBodies.sum());
  }

  /**
   * Adds several snapshots.
   *
   * @param parts the snapshots
   * @return their sum
   */
  public static FilterStats sum(Iterable<FilterStats> parts) {
    long[] t = new long[12];
    for (FilterStats p : parts) {
      long[] v = {p.admitted(), p.rateLimited(), p.quotaExceeded(), p.shed(), p.storeFailures(),
          p.shadowRefusals(), p.abandoned(), p.clientAborts(), p.bodyTimeouts(), p.bodyTooLarge(),
          p.failed(), p.readingBodies()};
      for (int i = 0; i < t.length; i++) {
        t[i] += v[i];
      }
    }
    return new FilterStats(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10],
        t[11]);
  }
}
