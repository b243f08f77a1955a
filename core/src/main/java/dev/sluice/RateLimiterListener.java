package dev.sluice;

/**
 * Observes a {@link RateLimiter}: each decision, and each time its store could not decide. Add
 * one with {@link RateLimiter#addListener(RateLimiterListener)} or
 * {@link RateLimiter.Builder#listener(RateLimiterListener)}; {@link RateLimitCounter} and the
 * {@code sluice-micrometer} binders are listeners.
 *
 * <pre>{@code
 * limiter.addListener(new RateLimiterListener<String>() {
 *   public void onDecision(String key, RateLimitDecision d) {
 *     if (!d.allowed()) log.info("{} refused {} for {}", d.policy(), key, d.retryAfter());
 *   }
 * });
 * }</pre>
 *
 * <p><b>Threading and order.</b> Methods run on the thread that asked for the decision (for an
 * asynchronous decision on a shared store, the thread that completes the store's answer), after
 * the decision is made and outside any lock of the limiter, before the caller sees the answer.
 * Listeners are called in the order they were added, one after another; decisions made by
 * different threads at once reach a listener concurrently, so an implementation must be
 * thread-safe. A listener that throws a {@link RuntimeException} never breaks the call: the
 * failure is logged once at WARN (later ones at DEBUG) and the next listener still runs. Keep
 * listeners short: they run on the request path.
 *
 * <p><b>Cost.</b> A limiter without listeners pays one volatile read per decision. With one, a
 * {@link RateLimiter#tryAcquirePermit(Object)} builds the full decision it would otherwise skip.
 *
 * @param <K> the key type
 */
public interface RateLimiterListener<K> {

  /**
   * Called once per decision of {@code tryAcquire}, {@code tryAcquirePermit},
   * {@code tryAcquireAsync} and {@code acquireOrThrow}, allowed or refused.
   *
   * @param key the key that was charged (never use it as a metric tag: keys are unbounded)
   * @param decision the decision
   */
  default void onDecision(K key, RateLimitDecision decision) {}

  /**
   * Called once per call whose store could not answer ({@link RateLimitStoreException}), just
   * before the failure reaches the caller, who then fails open or closed.
   *
   * @param key the key the call was for
   * @param failure the store's failure
   */
  default void onStoreFailure(K key, RuntimeException failure) {}
}
