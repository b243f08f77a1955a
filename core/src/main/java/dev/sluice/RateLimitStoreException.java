package dev.sluice;

/**
 * A rate-limit store could not answer (its database is down, a statement timed out). The limit
 * decision is unknown: the caller chooses whether to fail open or closed; Sluice never turns a
 * store failure into a silent allow.
 *
 * <p>Immutable and thread-safe.
 */
public class RateLimitStoreException extends SluiceException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what failed, naming the store
   * @param cause the underlying failure
   */
  public RateLimitStoreException(String message, Throwable cause) {
    super(message, cause);
  }
}
