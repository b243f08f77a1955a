package dev.sluice;

import java.time.Duration;
import java.util.Objects;

/**
 * Thrown when a {@link CircuitBreaker} refuses a call: it is open (the downstream has been
 * failing), or half-open with every probe already in flight. It says which breaker refused, in
 * which state, and how long until a probe call will be let through.
 *
 * <p>Immutable and thread-safe.
 */
public class CircuitOpenException extends SluiceException {
  private static final long serialVersionUID = 1L;

  /** The refusing breaker's name. */
  private final String breaker;
  /** The state that refused. */
  private final CircuitBreaker.State state;
  /** Nanoseconds until a probe is allowed. */
  private final long untilProbeNanos;

  /**
   * Creates the exception.
   *
   * @param breaker the breaker's name
   * @param state the state that refused, {@code OPEN} or {@code HALF_OPEN}
   * @param untilProbe how long until a probe is allowed; zero when probes are allowed but all busy
   * @throws NullPointerException if an argument is null
   */
  public CircuitOpenException(String breaker, CircuitBreaker.State state, Duration untilProbe) {
    super("circuit '" + Objects.requireNonNull(breaker, "breaker") + "' is "
        + Objects.requireNonNull(state, "state") + ": next probe allowed in "
        + Objects.requireNonNull(untilProbe, "untilProbe").toMillis() + " ms");
    this.breaker = breaker;
    this.state = state;
    this.untilProbeNanos = untilProbe.toNanos();
  }

  /**
   * The name of the breaker that refused.
   *
   * @return the breaker's name
   */
  public String breaker() {
    return breaker;
  }

  /**
   * The breaker's state when it refused.
   *
   * @return {@code OPEN} or {@code HALF_OPEN}
   */
  public CircuitBreaker.State state() {
    return state;
  }

  /**
   * How long until the breaker lets a probe call through; a good {@code Retry-After}.
   *
   * @return the wait, zero when a probe may start now but all probe slots are busy
   */
  public Duration untilProbe() {
    return Duration.ofNanos(untilProbeNanos);
  }
}
