package dev.sluice;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * A {@link RateLimitStore} that is naturally asynchronous, such as one on a network client whose
 * commands return futures: it implements {@link #acquireAsync} and inherits a synchronous
 * {@link #acquire} that waits for it. It is {@linkplain #isRemote() remote}.
 *
 * <p>The store bounds the time of every step itself (its command timeout), so the inherited
 * {@link #acquire} never waits longer than that.
 *
 * <p>Implementations must be thread-safe.
 *
 * @param <K> the key type
 */
public interface AsyncRateLimitStore<K> extends RateLimitStore<K> {

  /**
   * Applies one GCRA step for a key atomically; see {@link RateLimitStore#acquireAsync}. The
   * stage must complete within the store's own timeout, exceptionally with a
   * {@link RateLimitStoreException} when the store cannot answer.
   *
   * @param key the key, never null
   * @param incrementNanos the cost of the call: cost times the emission interval, &gt; 0
   * @param toleranceNanos the burst tolerance: burst times the emission interval, &gt; 0
   * @return a stage completing with the outcome of the step
   * @throws NullPointerException if {@code key} is null
   */
  @Override
  CompletionStage<Outcome> acquireAsync(K key, long incrementNanos, long toleranceNanos);

  /**
   * Applies one GCRA step and waits for it.
   *
   * @param key the key, never null
   * @param incrementNanos the cost of the call: cost times the emission interval, &gt; 0
   * @param toleranceNanos the burst tolerance: burst times the emission interval, &gt; 0
   * @return the outcome of the step
   * @throws NullPointerException if {@code key} is null
   * @throws RateLimitStoreException if the store cannot answer; the decision is then unknown
   */
  @Override
  default Outcome acquire(K key, long incrementNanos, long toleranceNanos) {
    CompletionStage<Outcome> stage = acquireAsync(key, incrementNanos, toleranceNanos);
    try {
      return stage.toCompletableFuture().join();
    } catch (CompletionException | CancellationException e) {
      Throwable cause = e instanceof CompletionException && e.getCause() != null
          ? e.getCause() : e;
      if (cause instanceof RateLimitStoreException storeFailure) {
        throw storeFailure;
      }
      throw new RateLimitStoreException(
          "rate-limit store " + this + " failed for key '" + key + "': " + cause, cause);
    }
  }

  /**
   * Always true: an asynchronous store waits on something outside the calling thread.
   *
   * @return true
   */
  @Override
  default boolean isRemote() {
    return true;
  }
}
