package dev.sluice.micrometer;

import dev.sluice.servlet.FilterListener;
import dev.sluice.servlet.FilterOutcome;
import dev.sluice.servlet.SluiceFilter;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Meters for a {@link SluiceFilter} (needs {@code sluice-servlet}, an optional dependency of this
 * module):
 * <ul>
 *   <li>{@code sluice.http.requests} (counter) {@code {rule, outcome}}: every outcome the filter
 *       reports per rule, the final one of each request ({@code admitted}, {@code rate_limited},
 *       {@code quota_exceeded}, {@code queue_rejected}, {@code queue_timeout}, ...) and the
 *       non-final ones on the way ({@code store_failure_open}, {@code shadow_refusal}); see
 *       {@link FilterOutcome}.
 * </ul>
 * The rule's name is the only request-derived tag; the client's address and user never are.
 * Counters of every rule the filter knows are registered at once, at zero.
 *
 * <pre>{@code
 * new SluiceFilterMetrics(filter).bindTo(registry);
 * // sum by (rule, outcome) (rate(sluice_http_requests_total[5m]))
 * }</pre>
 *
 * <p>{@link #bindTo} adds a listener to the filter; bind once per registry. Thread-safe.
 */
public final class SluiceFilterMetrics implements MeterBinder {
  private final SluiceFilter filter;
  private final Tags tags;

  /**
   * Meters for a filter.
   *
   * @param filter the filter
   * @throws NullPointerException if {@code filter} is null
   */
  public SluiceFilterMetrics(SluiceFilter filter) {
    this(filter, Tags.empty());
  }

  /**
   * Meters for a filter, with more tags.
   *
   * @param filter the filter
   * @param tags more tags for every meter
   * @throws NullPointerException if an argument is null
   */
  public SluiceFilterMetrics(SluiceFilter filter, Iterable<Tag> tags) {
    this.filter = Objects.requireNonNull(filter, "filter");
    this.tags = Tags.of(Objects.requireNonNull(tags, "tags"));
  }

  /**
   * Registers a counter per rule and outcome, and starts counting.
   *
   * @param registry the registry
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    Map<String, Map<FilterOutcome, Counter>> byRule = new ConcurrentHashMap<>();
    for (String rule : filter.ruleNames()) {
      byRule.put(rule, counters(registry, rule));
    }
    filter.addListener(new FilterListener() {
      @Override
      public void onOutcome(String rule, FilterOutcome outcome) {
        byRule.computeIfAbsent(rule, r -> counters(registry, r)).get(outcome).increment();
      }

      @Override
      public String toString() {
        return "SluiceFilterMetrics";
      }
    });
  }

  private Map<FilterOutcome, Counter> counters(MeterRegistry registry, String rule) {
    Map<FilterOutcome, Counter> counters = new EnumMap<>(FilterOutcome.class);
    for (FilterOutcome outcome : FilterOutcome.values()) {
      counters.put(outcome, Counter.builder("sluice.http.requests")
          .description("Requests a Sluice filter rule matched, by outcome")
          .tags(tags).tag("rule", rule).tag("outcome", outcome.name().toLowerCase(Locale.ROOT))
          .register(registry));
    }
    return counters;
  }
}
