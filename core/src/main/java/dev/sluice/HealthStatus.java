package dev.sluice;

/**
 * The overall verdict of a {@link HealthReport}, derived from its 0–100 score: {@link #HEALTHY}
 * from 85 (the original system's target "score &gt; 85"), {@link #DEGRADED} from 50, else
 * {@link #UNHEALTHY}.
 *
 * <p>Immutable and thread-safe.
 */
public enum HealthStatus {
  /** Score 85–100: every figure is within its target. */
  HEALTHY,
  /** Score 50–84: some figure is at or past its target but below twice it. */
  DEGRADED,
  /** Score 0–49: some figure is more than twice its target, or a check failed. */
  UNHEALTHY;

  /** The lowest score that is {@link #HEALTHY}. */
  public static final int HEALTHY_FROM = 85;
  /** The lowest score that is {@link #DEGRADED}. */
  public static final int DEGRADED_FROM = 50;

  /**
   * The status for a score.
   *
   * @param score a score in [0, 100]
   * @return its status
   * @throws IllegalArgumentException if {@code score} is outside [0, 100]
   */
  public static HealthStatus of(int score) {
    if (score < 0 || score > 100) {
      throw new IllegalArgumentException("score must be in [0, 100] but was " + score);
    }
    return score >= HEALTHY_FROM ? HEALTHY : score >= DEGRADED_FROM ? DEGRADED : UNHEALTHY;
  }
}
