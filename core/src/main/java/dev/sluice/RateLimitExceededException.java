package dev.sluice;

import java.util.Objects;

/**
 * Thrown where a caller chose the exception form of a rate-limit check and the limit refused; it
 * carries the refusing {@link RateLimitDecision} so a handler can build a 429 with
 * {@code Retry-After} without asking again.
 *
 * <p>Immutable and thread-safe.
 */
public class RateLimitExceededException extends SluiceException {
  private static final long serialVersionUID = 1L;

  private final transient RateLimitDecision decision;

  /**
   * Creates the exception for a refusal.
   *
   * @param decision the refusing decision
   * @throws NullPointerException if {@code decision} is null
   * @throws IllegalArgumentException if the decision allowed the call
   */
  public RateLimitExceededException(RateLimitDecision decision) {
    super(message(decision));
    this.decision = decision;
  }

  private static String message(RateLimitDecision decision) {
    Objects.requireNonNull(decision, "decision");
    if (decision.allowed()) {
      throw new IllegalArgumentException("decision must be a refusal but it allowed the call");
    }
    return "rate limit '" + decision.policy() + "' exceeded: retry after "
        + decision.retryAfter().toMillis() + " ms";
  }

  /**
   * The refusing decision.
   *
   * @return the decision, never null
   */
  public RateLimitDecision decision() {
    return decision;
  }
}
