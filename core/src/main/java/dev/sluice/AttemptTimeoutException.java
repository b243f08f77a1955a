package dev.sluice;

import java.time.Duration;
import java.util.Objects;

/**
 * Thrown when one attempt of an {@link OutboundGuard} call took longer than the guard's per-attempt
 * timeout. It counts as a failure for the guard's circuit breaker, and is retried when the retry
 * policy retries it (the default retries every exception).
 *
 * <p>Immutable and thread-safe.
 */
public class AttemptTimeoutException extends SluiceException {
  private static final long serialVersionUID = 1L;

  /** The guarded service. */
  private final String service;
  /** The per-attempt timeout, in nanoseconds. */
  private final long timeoutNanos;

  /**
   * Creates the exception.
   *
   * @param service the guarded downstream service
   * @param timeout the per-attempt timeout that passed
   * @param cause the underlying timeout signal, or null
   * @throws NullPointerException if {@code service} or {@code timeout} is null
   */
  public AttemptTimeoutException(String service, Duration timeout, Throwable cause) {
    super("attempt to call '" + Objects.requireNonNull(service, "service") + "' timed out after "
        + Objects.requireNonNull(timeout, "timeout").toMillis() + " ms", cause);
    this.service = service;
    this.timeoutNanos = timeout.toNanos();
  }

  /**
   * The guarded downstream service.
   *
   * @return the guard's name
   */
  public String service() {
    return service;
  }

  /**
   * The per-attempt timeout.
   *
   * @return the timeout
   */
  public Duration timeout() {
    return Duration.ofNanos(timeoutNanos);
  }
}
