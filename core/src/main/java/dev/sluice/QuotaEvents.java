package dev.sluice;

/**
 * A quota store that reports its decisions to {@link QuotaListener}s. Lets metrics and logging
 * observe a store without depending on its module: {@code AtomicQuotaRepository} implements it,
 * and {@code sluice-micrometer}'s {@code QuotaMetrics} takes one.
 *
 * <p>Implementations are thread-safe; listeners may be added at any time and see the events that
 * follow.
 */
public interface QuotaEvents {

  /**
   * Adds a listener after those already added.
   *
   * @param listener the listener
   * @throws NullPointerException if {@code listener} is null
   */
  void addListener(QuotaListener listener);
}
