package dev.sluice;

import java.time.Duration;

/**
 * Observes an {@link OutboundGuard}: each attempt, each retry, pacing waits, and each call's
 * outcome. Add one with {@link OutboundGuard#addListener(OutboundGuardListener)} or
 * {@link OutboundGuard.Builder#listener(OutboundGuardListener)}. The guard's breaker has its own
 * {@link CircuitBreakerListener}.
 *
 * <p><b>What is reported per call.</b> {@link #onAttempt} each time the work is about to run (an
 * attempt refused before it runs, by the breaker or by pacing, is not an attempt);
 * {@link #onPacingWait} each time a turn of the pacing must be waited for; {@link #onRetry} each
 * time a failed attempt will be retried, with the delay before the next one;
 * {@link #onRetryBudgetExhausted} when a retry is denied because the retry budget is spent; and
 * exactly one of {@link #onSuccess} and {@link #onFailure} when the call ends.
 *
 * <p><b>Threading and order.</b> Methods run on the thread running the call at that step (the
 * caller, or the guard's scheduler for asynchronous calls), outside any lock of the guard. For one
 * call the events are in the order they happened; calls running at once report concurrently, so
 * an implementation must be thread-safe. Listeners are called in the order they were added. A
 * listener that throws a {@link RuntimeException} never breaks the call: the failure is logged
 * once at WARN (later ones at DEBUG).
 */
public interface OutboundGuardListener {

  /**
   * The work is about to run.
   *
   * @param attempt the attempt's number within its call, from 1
   */
  default void onAttempt(int attempt) {}

  /**
   * A failed attempt will be retried.
   *
   * @param attempt the number of the attempt that failed, from 1
   * @param delay the wait before the next attempt
   * @param failure what the attempt threw; null when it returned a result the retry policy
   *     retries
   */
  default void onRetry(int attempt, Duration delay, Throwable failure) {}

  /** A retry was denied because the guard's retry budget is spent; the call fails. */
  default void onRetryBudgetExhausted() {}

  /**
   * An attempt waits for its pacing turn.
   *
   * @param wait how long
   */
  default void onPacingWait(Duration wait) {}

  /**
   * The call returned.
   *
   * @param duration from the call's start to its end, every attempt and wait included
   */
  default void onSuccess(Duration duration) {}

  /**
   * The call failed, after any retries.
   *
   * @param duration from the call's start to its end
   * @param failure what the caller sees
   */
  default void onFailure(Duration duration, Throwable failure) {}
}
