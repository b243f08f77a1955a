package dev.sluice;

/**
 * A quota store failed (database down, connection lost mid-statement, timeout). It says whether the
 * outcome is known, so the caller can choose to fail open or closed; Sluice never turns a store
 * failure into a silent allow.
 *
 * <p>Immutable and thread-safe.
 */
public class QuotaStoreException extends SluiceException {
  private static final long serialVersionUID = 1L;

  /** Whether the store certainly did not apply the operation. */
  private final boolean outcomeKnown;

  /**
   * Creates the exception.
   *
   * @param message what failed
   * @param outcomeKnown true when the store certainly did not apply the operation (it failed
   *     before sending it); false when it may or may not have been applied
   * @param cause the underlying failure
   */
  public QuotaStoreException(String message, boolean outcomeKnown, Throwable cause) {
    super(message, cause);
    this.outcomeKnown = outcomeKnown;
  }

  /**
   * Whether the store certainly did not apply the operation.
   *
   * @return true if nothing was applied; false if the outcome is unknown
   */
  public boolean outcomeKnown() {
    return outcomeKnown;
  }
}
