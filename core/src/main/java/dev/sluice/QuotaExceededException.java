package dev.sluice;

import java.util.Objects;

/**
 * Thrown where a caller chose the exception form of a quota check and the quota was exhausted; it
 * carries the refusing {@link QuotaDecision}.
 *
 * <p>Immutable and thread-safe.
 */
public class QuotaExceededException extends SluiceException {
  private static final long serialVersionUID = 1L;

  private final transient QuotaDecision decision;

  /**
   * Creates the exception.
   *
   * @param decision the refusing decision
   * @throws NullPointerException if {@code decision} is null
   */
  public QuotaExceededException(QuotaDecision decision) {
    super("quota '" + Objects.requireNonNull(decision, "decision").quota() + "' exhausted: "
        + decision.used() + " of " + decision.limit() + " used until " + decision.resetsAt());
    this.decision = decision;
  }

  /**
   * The refusing decision.
   *
   * @return the decision
   */
  public QuotaDecision decision() {
    return decision;
  }
}
