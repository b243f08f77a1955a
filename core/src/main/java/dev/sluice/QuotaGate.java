package dev.sluice;

/**
 * A per-subject allowance of work per calendar window (for example 3 chats a day on the free
 * plan), as seen by code that guards work with it. The PostgreSQL implementation is
 * {@code dev.sluice.quota.AtomicQuotaRepository} in {@code sluice-jdbc-quota}; this interface lets
 * the servlet filter and the composition use a quota without depending on JDBC.
 *
 * <p>Implementations must be thread-safe and atomic: concurrent consumes never overshoot the
 * limit.
 */
public interface QuotaGate {

  /**
   * Consumes {@code amount} units of a subject's quota if they are available.
   *
   * @param subject who is charged, such as a user id
   * @param quota the quota's name, such as {@code "chat"}
   * @param amount units to consume, &gt;= 1
   * @param requestId an idempotency key: the same id consumes once and answers the same; null
   *     for none
   * @return the decision, never null
   * @throws IllegalArgumentException if an argument is invalid (blank subject, amount &lt; 1)
   * @throws QuotaStoreException if the store failed; it says whether the consume happened
   */
  QuotaDecision consume(String subject, String quota, int amount, String requestId);

  /**
   * Gives back a consumption whose protected work failed. Idempotent; never refunds into a later
   * window; never makes the used count negative.
   *
   * @param subject who was charged
   * @param quota the quota's name
   * @param requestId the id the consumption was made with
   * @return whether this call gave units back (false when already refunded, unknown, or the
   *     window has rolled over)
   * @throws QuotaStoreException if the store failed
   */
  boolean refund(String subject, String quota, String requestId);
  /**
   * Answers what {@link #consume(String, String, int, String)} would decide now, without
   * consuming anything: for dry runs such as a servlet rule in shadow mode, which must not spend a
   * user's real allowance. {@code used} and {@code remaining} are the current figures;
   * {@code allowed} says whether {@code amount} units would be granted.
   *
   * @param subject who would be charged
   * @param quota the quota's name
   * @param amount units that would be consumed, &gt;= 1
   * @return the decision a consume would give, never null
   * @throws UnsupportedOperationException if this store cannot answer without consuming (the
   *     default); callers then skip the check
   * @throws IllegalArgumentException if an argument is invalid
   * @throws QuotaStoreException if the store failed
   */
  default QuotaDecision check(String subject, String quota, int amount) {
    throw new UnsupportedOperationException(getClass().getName() + " cannot check a quota"
        + " without consuming it");
  }
}
