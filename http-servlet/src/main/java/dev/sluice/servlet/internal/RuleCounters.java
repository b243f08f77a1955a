package dev.sluice.servlet.internal;

import dev.sluice.RateLimitDecision;
import dev.sluice.servlet.FilterStats;
import dev.sluice.servlet.RateLimitHeaders;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/** Per-rule counters behind {@link FilterStats}, and the rule's constant header text. Thread-safe. */
public final class RuleCounters {
  /**
   * The rule's last formatted {@code RateLimit-Policy} value and the decisions' figures it was
   * formatted for. A limiter reconfigured at run time gives decisions with other figures, and the
   * next response formats (and keeps) the new text, so the header never shows an old policy.
   */
  private record Formatted(String header, String policy1, long limit1, long window1,
      String policy2, long limit2, long window2) {

    boolean fits(List<RateLimitDecision> decisions) {
      RateLimitDecision first = decisions.get(0);
      if (first.limit() != limit1 || first.windowSeconds() != window1
          || !first.policy().equals(policy1)) {
        return false;
      }
      if (decisions.size() == 1) {
        return policy2 == null;
      }
      RateLimitDecision second = decisions.get(1);
      return policy2 != null && second.limit() == limit2 && second.windowSeconds() == window2
          && second.policy().equals(policy2);
    }

    static Formatted of(List<RateLimitDecision> decisions) {
      RateLimitDecision first = decisions.get(0);
      RateLimitDecision second = decisions.size() == 2 ? decisions.get(1) : null;
      return new Formatted(RateLimitHeaders.policy(decisions), first.policy(), first.limit(),
          first.windowSeconds(), second == null ? null : second.policy(),
          second == null ? 0 : second.limit(), second == null ? 0 : second.windowSeconds());
    }
  }

  /** The last value for one decision and for two; racing writers store equal values. */
  private volatile Formatted one;
  private volatile Formatted two;

  /** Creates the counters of a rule. */
  public RuleCounters() {}

  /**
   * The {@code RateLimit-Policy} value for the decisions a request got, formatted once per rule
   * and policy rather than per response.
   *
   * @param decisions the decisions, per-IP first; one or two
   * @return the header value
   */
  public String policyHeader(List<RateLimitDecision> decisions) {
    if (decisions.size() > 2) {
      return RateLimitHeaders.policy(decisions);
    }
    Formatted f = decisions.size() == 1 ? one : two;
    if (f != null && f.fits(decisions)) {
      return f.header();
    }
    f = Formatted.of(decisions);
    if (decisions.size() == 1) {
      one = f;
    } else {
      two = f;
    }
    return f.header();
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
