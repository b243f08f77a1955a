package dev.sluice;

/**
 * Observes a quota store: consumes granted and refused, refunds, and store failures. Add one to a
 * store that offers {@link QuotaEvents}, such as {@code AtomicQuotaRepository} in
 * {@code sluice-jdbc-quota}.
 *
 * <p>The subject is passed so a listener may log it; a metric must never use it as a tag
 * (subjects are unbounded), only the quota's name.
 *
 * <p><b>Threading and order.</b> Methods run on the thread that called the store, after the
 * database answered and outside any transaction, before the caller sees the answer. Listeners are
 * called in the order they were added; calls made at once report concurrently, so an
 * implementation must be thread-safe. A listener that throws a {@link RuntimeException} never
 * breaks the call: the failure is logged once at WARN (later ones at DEBUG). A dry-run
 * {@link QuotaGate#check} reports nothing.
 */
public interface QuotaListener {

  /**
   * Units were consumed (once per decision; a batch reports each of its requests). A consume
   * repeated with the same request id is answered, and reported, again, with the same figures.
   *
   * @param subject who was charged (log it, never tag a metric with it)
   * @param quota the quota's name
   * @param decision the decision
   */
  default void onConsumed(String subject, String quota, QuotaDecision decision) {}

  /**
   * A consume was refused: not enough units left in the window.
   *
   * @param subject who asked
   * @param quota the quota's name
   * @param decision the decision
   */
  default void onRefused(String subject, String quota, QuotaDecision decision) {}

  /**
   * A refund gave units back (not reported when it gave nothing back).
   *
   * @param subject who was refunded
   * @param quota the quota's name
   */
  default void onRefunded(String subject, String quota) {}

  /**
   * The store failed to consume or refund ({@link QuotaStoreException}).
   *
   * @param subject who the call was for (for a batch, its first request's)
   * @param quota the quota's name (for a batch, its first request's)
   * @param failure the failure, as the caller sees it
   */
  default void onStoreFailure(String subject, String quota, RuntimeException failure) {}
}
