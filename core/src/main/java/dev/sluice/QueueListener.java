package dev.sluice;

import java.time.Duration;

/**
 * Observes a {@link RequestQueue}: every attempt, and every permit's release. Add one with
 * {@link RequestQueue#addListener(QueueListener)} or
 * {@link RequestQueue.Builder#listener(QueueListener)}.
 *
 * <p><b>What is reported.</b> Each attempt ends in exactly one of {@link #onAdmitted},
 * {@link #onRejected}, {@link #onTimedOut} and {@link #onCancelled} (the same accounting as
 * {@link RequestQueue.Stats}); an attempt that had to wait is first reported by
 * {@link #onQueued}. A timed-out wait is reported by {@link #onTimedOut} only, never also as
 * {@code onRejected(..., TIMED_OUT)}. Each admitted permit is reported once more by
 * {@link #onReleased} when it is closed (closing again reports nothing). In the rare race where
 * a blocking {@code acquire} is interrupted at the instant its permit is granted, the permit is
 * reported admitted and then released at once.
 *
 * <p><b>Threading and order.</b> Methods run outside the queue's lock, on the thread that caused
 * the event: the caller for an immediate answer, the thread that freed a permit for an admission
 * after a wait, the scheduler's thread for a timeout, the caller of {@code cancel},
 * {@code drain} or {@code close}. Listeners are called in the order they were added. Events of
 * different attempts reach a listener concurrently and in no global order; for one waiting
 * attempt, {@link #onQueued} is reported by the enqueuing thread and the outcome by another, so
 * a very short wait may see the two overlap. A listener must therefore be thread-safe, and should
 * read {@link RequestQueue#stats()} rather than count events for "how many wait now". A listener
 * that throws a {@link RuntimeException} never breaks the call or the queue: the failure is
 * logged once at WARN (later ones at DEBUG).
 *
 * <p><b>Cost.</b> A queue without listeners pays one volatile read per attempt. With one, each
 * admitted permit is wrapped to know its key and admission time, and waits and holds read the
 * clock.
 *
 * @param <K> the key type
 */
public interface QueueListener<K> {

  /**
   * The attempt could not be admitted at once and now waits.
   *
   * @param key the attempt's key (never a metric tag)
   * @param priority the priority class
   */
  default void onQueued(K key, String priority) {}

  /**
   * The attempt got a permit.
   *
   * @param key the attempt's key
   * @param priority the priority class
   * @param waited how long it waited; {@link Duration#ZERO} when admitted at once
   */
  default void onAdmitted(K key, String priority, Duration waited) {}

  /**
   * The attempt was refused: at once ({@code QUEUE_FULL}, {@code SHUT_DOWN}), or while waiting
   * ({@code DRAINED}, {@code SHUT_DOWN}). Never called with {@code TIMED_OUT}; see
   * {@link #onTimedOut}.
   *
   * @param key the attempt's key
   * @param priority the priority class
   * @param reason why
   */
  default void onRejected(K key, String priority, QueueRejectedException.Reason reason) {}

  /**
   * The attempt waited its whole timeout.
   *
   * @param key the attempt's key
   * @param priority the priority class
   * @param waited how long it waited
   */
  default void onTimedOut(K key, String priority, Duration waited) {}

  /**
   * The caller withdrew the waiting attempt: cancelled or completed its future, or was
   * interrupted in {@code acquire}.
   *
   * @param key the attempt's key
   * @param priority the priority class
   * @param waited how long it waited
   */
  default void onCancelled(K key, String priority, Duration waited) {}

  /**
   * An admitted permit was closed (the first close; later ones report nothing). Permits admitted
   * before this listener was added are not reported.
   *
   * @param key the permit's key
   * @param priority the priority class
   * @param held how long the permit was held
   */
  default void onReleased(K key, String priority, Duration held) {}
}
