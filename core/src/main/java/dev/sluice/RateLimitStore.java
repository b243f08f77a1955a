package dev.sluice;

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
 * <p>Implementations must be thread-safe.
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
   * The result of one step.
   *
   * @param allowed whether the step stored a new TAT
   * @param tatNanos the key's TAT after the step (the new one when allowed, the unchanged one
   *     when refused), on the store's clock
   * @param nowNanos the time the store used for the step, on the same clock
   */
  record Outcome(boolean allowed, long tatNanos, long nowNanos) {}
}
