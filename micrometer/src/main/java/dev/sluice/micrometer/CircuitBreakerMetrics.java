package dev.sluice.micrometer;

import dev.sluice.CircuitBreaker;
import dev.sluice.CircuitBreakerListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * Meters for a {@link CircuitBreaker}:
 * <ul>
 *   <li>{@code sluice.breaker.state} (gauge) {@code {name, state=closed|open|half_open}}: 1 for the
 *       current state, 0 for the others (Resilience4j's convention, so a panel can sum by state);
 *   <li>{@code sluice.breaker.calls} (counter) {@code {name, outcome=success|failure|not_permitted}};
 *   <li>{@code sluice.breaker.transitions} (counter) {@code {name, from, to}};
 *   <li>{@code sluice.breaker.failure.rate} (gauge) {@code {name}}: failures over calls in the
 *       breaker's sliding window, 0 to 1.
 * </ul>
 *
 * <pre>{@code
 * new CircuitBreakerMetrics(pubmed).bindTo(registry);
 * // max by (name) (sluice_breaker_state{state="open"}) == 1
 * }</pre>
 *
 * <p>The state gauges read {@link CircuitBreaker#state()} when scraped (so an open breaker whose
 * open duration has passed reads half-open, as it does for callers). {@link #bindTo} adds a
 * listener to the breaker; bind once per registry. Thread-safe.
 */
public final class CircuitBreakerMetrics implements MeterBinder {
  private final CircuitBreaker breaker;
  private final Tags tags;

  /**
   * Meters for a breaker, tagged with its name.
   *
   * @param breaker the breaker
   * @throws NullPointerException if {@code breaker} is null
   */
  public CircuitBreakerMetrics(CircuitBreaker breaker) {
    this(breaker, Tags.empty());
  }

  /**
   * Meters for a breaker, tagged with its name and {@code tags}.
   *
   * @param breaker the breaker
   * @param tags more tags for every meter
   * @throws NullPointerException if an argument is null
   */
  public CircuitBreakerMetrics(CircuitBreaker breaker, Iterable<Tag> tags) {
    this.breaker = Objects.requireNonNull(breaker, "breaker");
    this.tags = Tags.of(Objects.requireNonNull(tags, "tags")).and("name", breaker.name());
  }

  /**
   * Registers the meters and starts counting.
   *
   * @param registry the registry
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    for (CircuitBreaker.State state : CircuitBreaker.State.values()) {
      Gauge.builder("sluice.breaker.state", breaker, b -> b.state() == state ? 1 : 0)
          .description("1 for the breaker's current state, 0 for the others")
          .tags(tags).tag("state", tagValue(state)).strongReference(true).register(registry);
    }
    Gauge.builder("sluice.breaker.failure.rate", breaker, CircuitBreaker::failureRate)
        .description("Failures over calls in the breaker's sliding window")
        .tags(tags).strongReference(true).register(registry);
    Counter success = calls(registry, "success");
    Counter failure = calls(registry, "failure");
    Counter notPermitted = calls(registry, "not_permitted");
    breaker.addListener(new CircuitBreakerListener() {
      @Override
      public void onStateTransition(CircuitBreaker.State from, CircuitBreaker.State to) {
        Counter.builder("sluice.breaker.transitions")
            .description("State transitions of the breaker")
            .tags(tags).tag("from", tagValue(from)).tag("to", tagValue(to))
            .register(registry).increment();
      }

      @Override
      public void onSuccess(Duration duration) {
        success.increment();
      }

      @Override
      public void onFailure(Duration duration, Throwable thrown) {
        failure.increment();
      }

      @Override
      public void onNotPermitted() {
        notPermitted.increment();
      }

      @Override
      public String toString() {
        return "CircuitBreakerMetrics[" + breaker.name() + "]";
      }
    });
  }

  private Counter calls(MeterRegistry registry, String outcome) {
    return Counter.builder("sluice.breaker.calls")
        .description("Calls through the breaker, by outcome")
        .tags(tags).tag("outcome", outcome).register(registry);
  }

  static String tagValue(Enum<?> e) {
    return e.name().toLowerCase(Locale.ROOT);
  }
}
