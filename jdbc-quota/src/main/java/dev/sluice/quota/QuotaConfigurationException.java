package dev.sluice.quota;

import dev.sluice.QuotaStoreException;

/**
 * The quota database cannot decide for this subject because of how it is configured: the
 * subject's plan does not define the quota, or the plan's time zone is not one PostgreSQL knows.
 * An operator's mistake, not a client's: nothing was applied ({@link #outcomeKnown()} is true),
 * and a caller treats it like any other {@link QuotaStoreException} (fail open or closed) while the
 * message, which names the subject, the quota and the problem, goes to the log.
 *
 * <p>Immutable and thread-safe.
 */
public class QuotaConfigurationException extends QuotaStoreException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what is misconfigured, naming the subject and the quota
   * @param cause the database's error
   */
  public QuotaConfigurationException(String message, Throwable cause) {
    super(message, true, cause);
  }
}
