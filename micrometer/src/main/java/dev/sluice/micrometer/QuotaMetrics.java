package dev.sluice.micrometer;

import dev.sluice.QuotaDecision;
import dev.sluice.QuotaEvents;
import dev.sluice.QuotaListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Meters for a quota store that reports {@link QuotaEvents}, such as
 * {@code dev.sluice.quota.AtomicQuotaRepository} (this module does not depend on it):
 * <ul>
 *   <li>{@code sluice.quota.outcomes} (counter)
 *       {@code {name, quota, outcome=consumed|refused|refunded|store_failure}}.
 * </ul>
 * The {@code quota} tag is the quota's name ({@code chat}, {@code export}: a handful, from the
 * plans); the subject (user) is never a tag. A quota's counters appear on its first event.
 *
 * <pre>{@code
 * AtomicQuotaRepository quotas = AtomicQuotaRepository.create(dataSource);
 * new QuotaMetrics("main", quotas).bindTo(registry);
 * // sum by (quota, outcome) (rate(sluice_quota_outcomes_total[5m]))
 * }</pre>
 *
 * <p>{@link #bindTo} adds a listener to the store; bind once per registry. Thread-safe.
 */
public final class QuotaMetrics implements MeterBinder {
  private static final String[] OUTCOMES = {"consumed", "refused", "refunded", "store_failure"};
  private static final int CONSUMED = 0;
  private static final int REFUSED = 1;
  private static final int REFUNDED = 2;
  private static final int STORE_FAILURE = 3;

  private final QuotaEvents events;
  private final Tags tags;

  /**
   * Meters for a quota store.
   *
   * @param name the store's name, the {@code name} tag (several stores may be bound)
   * @param events the store
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code name} is blank
   */
  public QuotaMetrics(String name, QuotaEvents events) {
    this(name, events, Tags.empty());
  }

  /**
   * Meters for a quota store, with more tags.
   *
   * @param name the store's name, the {@code name} tag
   * @param events the store
   * @param tags more tags for every meter
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code name} is blank
   */
  public QuotaMetrics(String name, QuotaEvents events, Iterable<Tag> tags) {
    Objects.requireNonNull(name, "name");
    if (name.isBlank()) {
      throw new IllegalArgumentException("name must be non-blank but was blank");
    }
    this.events = Objects.requireNonNull(events, "events");
    this.tags = Tags.of(Objects.requireNonNull(tags, "tags")).and("name", name);
  }

  /**
   * Starts counting.
   *
   * @param registry the registry
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    Map<String, Counter[]> byQuota = new ConcurrentHashMap<>();
    events.addListener(new QuotaListener() {
      @Override
      public void onConsumed(String subject, String quota, QuotaDecision decision) {
        counter(quota, CONSUMED).increment();
      }

      @Override
      public void onRefused(String subject, String quota, QuotaDecision decision) {
        counter(quota, REFUSED).increment();
      }

      @Override
      public void onRefunded(String subject, String quota) {
        counter(quota, REFUNDED).increment();
      }

      @Override
      public void onStoreFailure(String subject, String quota, RuntimeException failure) {
        counter(quota, STORE_FAILURE).increment();
      }

      private Counter counter(String quota, int outcome) {
        return byQuota.computeIfAbsent(quota, q -> {
          Counter[] counters = new Counter[OUTCOMES.length];
          for (int i = 0; i < counters.length; i++) {
            counters[i] = Counter.builder("sluice.quota.outcomes")
                .description("Quota consumes, refusals, refunds and store failures")
                .tags(tags).tag("quota", q).tag("outcome", OUTCOMES[i]).register(registry);
          }
          return counters;
        })[outcome];
      }

      @Override
      public String toString() {
        return "QuotaMetrics" + tags;
      }
    });
  }
}
