package dev.sluice;

import java.time.Duration;

/**
 * Observes a {@link CircuitBreaker}: its state transitions and the outcome of each call it
 * records. Add one with {@link CircuitBreaker#addListener(CircuitBreakerListener)} or
 * {@link CircuitBreaker.Builder#listener(CircuitBreakerListener)}.
 *
 * <p><b>Threading and order.</b> Methods run outside the breaker's lock. Outcomes
 * ({@link #onSuccess}, {@link #onFailure}, {@link #onNotPermitted}) run on the thread that
 * reported them. Transitions are delivered one at a time and in the order the breaker made them:
 * each is queued under the breaker's lock, and the thread that made it delivers the queue unless
 * another thread is already delivering, which then delivers it too. So a listener sees
 * {@code CLOSED -> OPEN} before the {@code OPEN -> HALF_OPEN} that follows, never the reverse,
 * and never two transitions at once; it may see a transition on a thread other than the one that
 * caused it. Listeners are called in the order they were added. A listener that throws a
 * {@link RuntimeException} never breaks the call: the failure is logged once at WARN (later ones
 * at DEBUG).
 *
 * <p><b>Outcomes.</b> Each call recorded is reported once: as a success, or as a failure (an
 * exception the breaker counts, or a success slower than the slow-call threshold), whatever the
 * state. A call refused by an open (or full half-open) breaker is reported by
 * {@link #onNotPermitted} and by nothing else.
 */
public interface CircuitBreakerListener {

  /**
   * The breaker changed state.
   *
   * @param from the state before
   * @param to the state after
   */
  default void onStateTransition(CircuitBreaker.State from, CircuitBreaker.State to) {}

  /**
   * A call was recorded as a success.
   *
   * @param duration how long it took, as reported (zero when the caller did not time it)
   */
  default void onSuccess(Duration duration) {}

  /**
   * A call was recorded as a failure.
   *
   * @param duration how long it took, as reported
   * @param failure what it threw; null when the caller reported a failure without an exception
   *     ({@link CircuitBreaker#recordFailure(Duration)}) or the call was only too slow
   */
  default void onFailure(Duration duration, Throwable failure) {}

  /** A call was refused because the breaker is open, or half-open with every probe taken. */
  default void onNotPermitted() {}
}
