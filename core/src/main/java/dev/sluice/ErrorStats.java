package dev.sluice;

import java.util.Objects;

/**
 * One component's outcome counts over an {@link ErrorTracker}'s sliding window.
 *
 * <p>Immutable and thread-safe.
 *
 * @param component the component's name, such as {@code "pubmed"} or {@code "db"}
 * @param successes successful operations in the window
 * @param failures failed operations in the window
 */
public record ErrorStats(String component, long successes, long failures) {

  /**
   * Validates the figures.
   *
   * @param component the component's name
   * @param successes successful operations in the window
   * @param failures failed operations in the window
   * @throws NullPointerException if {@code component} is null
   * @throws IllegalArgumentException if a count is negative
   */
  public ErrorStats {
    Objects.requireNonNull(component, "component");
    if (successes < 0 || failures < 0) {
      throw new IllegalArgumentException(
          "successes and failures must be >= 0 but were " + successes + ", " + failures);
    }
  }

  /**
   * All operations in the window.
   *
   * @return successes plus failures
   */
  public long calls() {
    return successes + failures;
  }

  /**
   * The share of operations that failed.
   *
   * @return failures divided by calls, 0 when there were no calls
   */
  public double errorRate() {
    long calls = calls();
    return calls == 0 ? 0 : failures / (double) calls;
  }
}
