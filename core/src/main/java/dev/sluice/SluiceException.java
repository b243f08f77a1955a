package dev.sluice;

/**
 * The base type of every exception Sluice throws on purpose: a refusal (rate limited, queue full,
 * quota exhausted, circuit open) or a failure of a backing store. Catching it catches all of
 * Sluice's own outcomes and none of the protected code's.
 *
 * <p>Instances are immutable and safe to share between threads.
 */
public class SluiceException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates an exception with a message.
   *
   * @param message what happened, for logs and error responses
   */
  public SluiceException(String message) {
    super(message);
  }

  /**
   * Creates an exception with a message and a cause.
   *
   * @param message what happened
   * @param cause the underlying failure
   */
  public SluiceException(String message, Throwable cause) {
    super(message, cause);
  }
}
