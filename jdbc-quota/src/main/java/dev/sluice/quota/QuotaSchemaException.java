package dev.sluice.quota;

import dev.sluice.SluiceException;

/**
 * Installing the shipped schema failed in the database (see {@link QuotaSchema#migrate}).
 *
 * <p>Immutable and thread-safe.
 */
public class QuotaSchemaException extends SluiceException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what failed
   * @param cause the underlying failure
   */
  public QuotaSchemaException(String message, Throwable cause) {
    super(message, cause);
  }
}
