package dev.sluice;

import java.time.Duration;
import java.util.Objects;

/**
 * Thrown when an {@link OutboundGuard}'s pacing would make a caller wait longer than its maximum
 * wait for a turn. Nothing was reserved, so the refusal costs the downstream nothing.
 *
 * <p>Immutable and thread-safe.
 */
public class PacingRejectedException extends SluiceException {
  private static final long serialVersionUID = 1L;

  /** The guarded service. */
  private final String service;
  /** The wait that was refused, in nanoseconds. */
  private final long waitNanos;
  /** The configured maximum wait, in nanoseconds. */
  private final long maxWaitNanos;

  /**
   * Creates the exception.
   *
   * @param service the guarded downstream service
   * @param wait how long the caller would have had to wait
   * @param maxWait the configured maximum wait
   * @throws NullPointerException if an argument is null
   */
  public PacingRejectedException(String service, Duration wait, Duration maxWait) {
    super("pacing of '" + Objects.requireNonNull(service, "service") + "' would wait "
        + Objects.requireNonNull(wait, "wait").toMillis() + " ms, more than the maximum "
        + Objects.requireNonNull(maxWait, "maxWait").toMillis() + " ms");
    this.service = service;
    this.waitNanos = wait.toNanos();
    this.maxWaitNanos = maxWait.toNanos();
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
   * How long the caller would have had to wait for its turn; a good {@code Retry-After}.
   *
   * @return the wait
   */
  public Duration waitTime() {
    return Duration.ofNanos(waitNanos);
  }

  /**
   * The configured maximum wait.
   *
   * @return the maximum wait
   */
  public Duration maxWait() {
    return Duration.ofNanos(maxWaitNanos);
  }
}
