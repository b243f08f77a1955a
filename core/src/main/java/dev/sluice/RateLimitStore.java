package dev.sluice;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Where a {@link RateLimiter} keeps its per-key state: one theoretical arrival time (TAT) per key.
 * The in-memory store is the default; a PostgreSQL or Redis store lets several instances share
 * one limit.
 *
 * <p>Every store performs the same atomic step, so all stores give the same decisions for the same
 * inputs. With {@code now} read from the store's own clock, {@code stored} the key's TAT (absent
 * keys count as {@code now}):
 *
 * <pre>
 * tat    = max(stored, now)
 * newTat = tat + increment
 * if newTat - now &lt;= tolerance:  stored = newTat;  return Outcome(true,  newTat, now)
 * else:                                            return Outcome(false, tat,    now)
 * </pre>
 *
 * <p>A step reads its clock once and uses that one {@code now} throughout, including to create
 * the state of a key it has not seen: a second, later reading would start the key owing the time
 * between the two, so a new key's first call costing the whole burst would be refused.
 *
 * <p>The step must be atomic per key: two concurrent calls may never both read the same
 * {@code stored}. A store may forget a key whose TAT is not after {@code now} (its bucket is
 * full), and must never forget a key in a way that lets it start with more than a full bucket.
 * The {@link RateLimiter} derives remaining, retry-after and reset-after from the outcome.
 *
 * <p><b>Synchronous and asynchronous.</b> A store answers in both forms. A naturally synchronous
 * store (in memory, JDBC) implements {@link #acquire} and inherits {@link #acquireAsync}, which
 * runs the step on the calling thread and returns a completed stage. A naturally asynchronous
 * store (a network client with futures) implements {@link AsyncRateLimitStore}, whose
 * {@link #acquire} waits for {@link #acquireAsync}. A store whose steps cross a network says so
 * with {@link #isRemote()}, so a caller that must not block a thread (a servlet filter) uses the
 * asynchronous form for it and keeps the cheaper synchronous form for local stores.
 *
 * <p>Implementations must be thread-safe. The contract kit {@code dev.sluice.contract.RateLimitStoreContract}
 * in {@code sluice-core}'s test-jar checks a store against this contract.
 *
 * @param <K> the key type
 */
public interface RateLimitStore<K> {

  /**
   * Applies one GCRA step for a key atomically, as described on the interface.
   *
   * @param key the key, never null
   * @param incrementNanos the cost of the call: cost times the emission interval, &gt; 0
   * @param toleranceNanos the burst tolerance: burst times the emission interval, &gt; 0
   * @return the outcome of the step
   * @throws RateLimitStoreException if the store cannot answer; the decision is then unknown
   */
  Outcome acquire(K key, long incrementNanos, long toleranceNanos);

  /**
   * Applies one GCRA step for a key atomically, as {@link #acquire}, without blocking the caller
   * on a remote store. A store failure never throws from here: the stage completes exceptionally
   * with a {@link RateLimitStoreException}.
   *
   * <p>The default runs {@link #acquire} on the calling thread and returns a completed stage, which
   * is right for a store that is naturally synchronous.
   *
   * @param key the key, never null
   * @param incrementNanos the cost of the call: cost times the emission interval, &gt; 0
   * @param toleranceNanos the burst tolerance: burst times the emission interval, &gt; 0
   * @return a stage completing with the outcome of the step, or exceptionally with a
   *     {@link RateLimitStoreException} if the store cannot answer
   * @throws NullPointerException if {@code key} is null
   */
  default CompletionStage<Outcome> acquireAsync(K key, long incrementNanos, long toleranceNanos) {
    Objects.requireNonNull(key, "key");
    try {
      return CompletableFuture.completedFuture(acquire(key, incrementNanos, toleranceNanos));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Whether a step may wait on a network (a shared database or cache) rather than run in this
   * process. Callers that must not block a thread call {@link #acquireAsync} on remote stores and
   * {@link #acquire} on local ones. The default is {@code false}.
   *
   * @return true if steps cross a network
   */
  default boolean isRemote() {
    return false;
  }

  /**
   * What the store has seen of its own calls, for a health check; see
   * {@link HealthContributors#rateLimitStore(String, java.util.function.Supplier)}. Network stores
   * report their calls and failures; the default, right for a store in this process that cannot
   * fail, reports nothing.
   *
   * @return the store's counts, or empty if it keeps none
   */
  default java.util.Optional<StoreStats> stats() {
    return java.util.Optional.empty();
  }

  /**
   * The result of one step.
   *
   * @param allowed whether the step stored a new TAT
   * @param tatNanos the key's TAT after the step (the new one when allowed, the unchanged one
   *     when refused), on the store's clock
   * @param nowNanos the time the store used for the step, on the same clock
   */
  record Outcome(boolean allowed, long tatNanos, long nowNanos) {}
}
