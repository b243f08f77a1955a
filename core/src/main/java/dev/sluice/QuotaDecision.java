package dev.sluice;

import java.time.Instant;
import java.util.Objects;

/**
 * The answer of a {@link QuotaGate} to one consume: whether the work may proceed, and the figures a
 * response or a page shows (used, limit, remaining, when the window resets).
 *
 * <p>Immutable and thread-safe.
 *
 * @param allowed whether the amount was consumed
 * @param used units used in the current window, after this consume when allowed
 * @param limit units allowed per window
 * @param remaining units left in the current window ({@code max(0, limit - used)})
 * @param resetsAt when the current window ends and the allowance is whole again
 * @param quota the quota's name, such as {@code "chat"}
 */
public record QuotaDecision(
    boolean allowed, long used, long limit, long remaining, Instant resetsAt, String quota) {

  /**
   * Validates the figures.
   *
   * @param allowed whether the amount was consumed
   * @param used units used in the current window
   * @param limit units allowed per window
   * @param remaining units left in the current window
   * @param resetsAt when the current window ends
   * @param quota the quota's name
   * @throws NullPointerException if {@code resetsAt} or {@code quota} is null
   * @throws IllegalArgumentException if a count is negative
   */
  public QuotaDecision {
    Objects.requireNonNull(resetsAt, "resetsAt");
    Objects.requireNonNull(quota, "quota");
    if (used < 0 || limit < 0 || remaining < 0) {
      throw new IllegalArgumentException(
          "used, limit and remaining must be >= 0 but were " + used + ", " + limit + ", "
              + remaining);
    }
  }
}
