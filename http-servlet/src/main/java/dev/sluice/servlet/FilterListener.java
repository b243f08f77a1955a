package dev.sluice.servlet;

import java.util.Objects;
import java.util.function.BiConsumer;

/**
 * Hears how requests end in a {@link SluiceFilter}: for metrics, logs or tests. Register one with
 * {@link SluiceFilter.Builder#listener(FilterListener)} or {@link SluiceFilter#addListener}.
 *
 * <p>Listeners are called in registration order, on the thread that ended the request (a
 * container thread, the queue's, the body deadline's or a remote store's), never under a lock of
 * the filter. Keep them short and non-blocking. A listener that throws never breaks a request:
 * the filter logs its first failure at WARN and later ones at DEBUG, and calls the next listener.
 *
 * <p>Methods have no-op defaults, so a listener overrides only what it needs and keeps compiling
 * when later versions add events.
 *
 * <pre>{@code
 * filter.addListener(FilterListener.onOutcome((rule, outcome) -> registry.counter(
 *     "sluice.filter.requests", "rule", rule, "outcome", outcome.name()).increment()));
 * }</pre>
 *
 * <p>Implementations must be thread-safe.
 */
public interface FilterListener {

  /**
   * Called once with the final outcome of every request a rule matched, and before it for each
   * non-final outcome on its way; see {@link FilterOutcome}.
   *
   * @param rule the name of the rule that matched
   * @param outcome what happened
   */
  default void onOutcome(String rule, FilterOutcome outcome) {}

  /**
   * A listener that passes every outcome to a function.
   *
   * @param onOutcome called as {@link #onOutcome(String, FilterOutcome)}
   * @return the listener
   * @throws NullPointerException if {@code onOutcome} is null
   */
  static FilterListener onOutcome(BiConsumer<String, FilterOutcome> onOutcome) {
    Objects.requireNonNull(onOutcome, "onOutcome");
    return new FilterListener() {
      @Override
      public void onOutcome(String rule, FilterOutcome outcome) {
        onOutcome.accept(rule, outcome);
      }
    };
  }
}
