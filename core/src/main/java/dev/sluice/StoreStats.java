package dev.sluice;

import java.util.Objects;

/**
 * What a network store (a shared rate-limit store) has seen of its own calls since it was built:
 * how many steps it ran, how many failed (timeouts, lost connections, server errors), and how
 * many failed in a row up to now. A store that answers again resets {@code consecutiveFailures}
 * to zero, so {@link #failing()} tells an operator whether the store is down right now, and the
 * totals tell how often it was.
 *
 * <p>{@link HealthContributors#rateLimitStore(String, java.util.function.Supplier)} turns it into
 * a health component.
 *
 * @param name the store's name, such as {@code "redis:per-ip"}
 * @param calls steps started, &gt;= 0
 * @param failures steps that failed, &gt;= 0
 * @param consecutiveFailures steps that failed since the last one that succeeded, &gt;= 0
 */
public record StoreStats(String name, long calls, long failures, long consecutiveFailures) {

  /**
   * Validates.
   *
   * @param name the store's name
   * @param calls steps started
   * @param failures steps that failed
   * @param consecutiveFailures steps that failed since the last success
   * @throws NullPointerException if {@code name} is null
   * @throws IllegalArgumentException if a count is negative
   */
  public StoreStats {
    Objects.requireNonNull(name, "name");
    if (calls < 0 || failures < 0 || consecutiveFailures < 0) {
      throw new IllegalArgumentException("counts must be >= 0 but were calls=" + calls
          + ", failures=" + failures + ", consecutiveFailures=" + consecutiveFailures);
    }
  }

  /**
   * Whether the most recent step failed.
   *
   * @return true while the store fails
   */
  public boolean failing() {
    return consecutiveFailures > 0;
  }
}
