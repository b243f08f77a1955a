package dev.sluice.servlet;

import dev.sluice.RateLimitDecision;
import java.util.List;

/**
 * Formats the IETF draft rate-limit headers (draft-ietf-httpapi-ratelimit-headers) in structured
 * field syntax:
 *
 * <pre>
 * RateLimit-Policy: "chat";q=5;w=60
 * RateLimit: "chat";r=0;t=12
 * </pre>
 *
 * <p>{@code q} is the limit, {@code w} the window in seconds, {@code r} the remaining calls and
 * {@code t} the seconds until the bucket is full again (rounded up). Several decisions (a per-IP
 * and a per-user limit) become a list, in the order given. Also {@code Retry-After} in whole
 * seconds, rounded up.
 *
 * <p>Thread-safe (stateless).
 */
public final class RateLimitHeaders {
  /** The policy header's name. */
  public static final String POLICY = "RateLimit-Policy";
  /** The state header's name. */
  public static final String STATE = "RateLimit";

  private RateLimitHeaders() {}

  /**
   * The {@code RateLimit-Policy} value for some decisions.
   *
   * @param decisions one or more decisions
   * @return the header value
   */
  public static String policy(List<RateLimitDecision> decisions) {
    StringBuilder sb = new StringBuilder();
    for (RateLimitDecision d : decisions) {
      if (sb.length() > 0) {
        sb.append(", ");
      }
      sb.append(sfString(d.policy())).append(";q=").append(d.limit())
          .append(";w=").append(d.windowSeconds());
    }
    return sb.toString();
  }

  /**
   * The {@code RateLimit} value for some decisions.
   *
   * @param decisions one or more decisions
   * @return the header value
   */
  public static String state(List<RateLimitDecision> decisions) {
    StringBuilder sb = new StringBuilder();
    for (RateLimitDecision d : decisions) {
      if (sb.length() > 0) {
        sb.append(", ");
      }
      sb.append(sfString(d.policy())).append(";r=").append(d.remaining())
          .append(";t=").append(d.resetAfterSeconds());
    }
    return sb.toString();
  }

  /**
   * Encodes a policy name as a structured-field string: printable ASCII, with {@code "} and
   * {@code \} escaped; any other character becomes {@code _}.
   *
   * @param name the policy name
   * @return the quoted sf-string
   */
  static String sfString(String name) {
    StringBuilder sb = new StringBuilder(name.length() + 2).append('"');
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c >= 0x20 && c <= 0x7E) {
        sb.append(c);
      } else {
        sb.append('_');
      }
    }
    return sb.append('"').toString();
  }

}
