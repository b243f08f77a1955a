package dev.sluice.micrometer;

import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimiter;
import dev.sluice.RateLimiterListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;

/**
 * Meters for a {@link RateLimiter}:
 * <ul>
 *   <li>{@code sluice.ratelimit.decisions} (counter) {@code {name, outcome=allowed|refused}};
 *   <li>{@code sluice.ratelimit.store.failures} (counter) {@code {name}}: decisions a shared store
 *       could not make (the caller then failed open or closed);
 *   <li>{@code sluice.ratelimit.limit} (gauge) {@code {name}}: calls allowed per period.
 * </ul>
 * Keys are never tags. In Prometheus: {@code sluice_ratelimit_decisions_total} and so on.
 *
 * <pre>{@code
 * new RateLimiterMetrics(chatLimiter).bindTo(registry);
 * // rate(sluice_ratelimit_decisions_total{name="chat",outcome="refused"}[5m])
 * }</pre>
 *
 * <p>{@link #bindTo(MeterRegistry)} adds a listener to the limiter, so each binding counts every
 * later decision; bind once per registry. Thread-safe.
 */
public final class RateLimiterMetrics implements MeterBinder {
  private final RateLimiter<?> limiter;
  private final Tags tags;

  /**
   * Meters for a limiter, tagged with its name.
   *
   * @param limiter the limiter
   * @throws NullPointerException if {@code limiter} is null
   */
  public RateLimiterMetrics(RateLimiter<?> limiter) {
    this(limiter, Tags.empty());
  }

  /**
   * Meters for a limiter, tagged with its name and {@code tags}.
   *
   * @param limiter the limiter
   * @param tags more tags for every meter, such as the application's
   * @throws NullPointerException if an argument is null
   */
  public RateLimiterMetrics(RateLimiter<?> limiter, Iterable<Tag> tags) {
    this.limiter = Objects.requireNonNull(limiter, "limiter");
    this.tags = Tags.of(Objects.requireNonNull(tags, "tags")).and("name", limiter.name());
  }

  /**
   * Registers the meters and starts counting.
   *
   * @param registry the registry
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    Counter allowed = decisions(registry, "allowed");
    Counter refused = decisions(registry, "refused");
    Counter failures = Counter.builder("sluice.ratelimit.store.failures")
        .description("Rate-limit decisions the store could not make")
        .tags(tags).register(registry);
    Gauge.builder("sluice.ratelimit.limit", limiter,
            RateLimiter::limit)
        .description("Calls allowed per period in steady state")
        .tags(tags).strongReference(true).register(registry);
    limiter.addListener(new RateLimiterListener<Object>() {
      @Override
      public void onDecision(Object key, RateLimitDecision decision) {
        (decision.allowed() ? allowed : refused).increment();
      }

      @Override
      public void onStoreFailure(Object key, RuntimeException failure) {
        failures.increment();
      }

      @Override
      public String toString() {
        return "RateLimiterMetrics[" + limiter.name() + "]";
      }
    });
  }

  private Counter decisions(MeterRegistry registry, String outcome) {
    return Counter.builder("sluice.ratelimit.decisions")
        .description("Rate-limit decisions, by outcome")
        .tags(tags).tag("outcome", outcome).register(registry);
  }
}
