package dev.sluice.micrometer;

import dev.sluice.OutboundGuard;
import dev.sluice.OutboundGuardListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.Objects;

/**
 * Meters for an {@link OutboundGuard} (its breaker has its own {@link CircuitBreakerMetrics}):
 * <ul>
 *   <li>{@code sluice.guard.calls} (timer) {@code {name, outcome=success|failure}}: whole calls,
 *       every attempt and wait included;
 *   <li>{@code sluice.guard.attempts} (counter) {@code {name}}: runs of the work;
 *   <li>{@code sluice.guard.retries} (counter) {@code {name}}: failed attempts that were retried;
 *   <li>{@code sluice.guard.retry.budget.exhausted} (counter) {@code {name}}: retries denied by
 *       the retry budget;
 *   <li>{@code sluice.guard.pacing.wait} (timer) {@code {name}}: waits for a pacing turn;
 *   <li>{@code sluice.guard.pacing.backlog} (gauge, seconds) {@code {name}}: how long a caller
 *       arriving now would wait.
 * </ul>
 *
 * <pre>{@code
 * new OutboundGuardMetrics(pubmed).bindTo(registry);
 * }</pre>
 *
 * <p>{@link #bindTo} adds a listener to the guard; bind once per registry. Thread-safe.
 */
public final class OutboundGuardMetrics implements MeterBinder {
  private final OutboundGuard guard;
  private final Tags tags;

  /**
   * Meters for a guard, tagged with its name.
   *
   * @param guard the guard
   * @throws NullPointerException if {@code guard} is null
   */
  public OutboundGuardMetrics(OutboundGuard guard) {
    this(guard, Tags.empty());
  }

  /**
   * Meters for a guard, tagged with its name and {@code tags}.
   *
   * @param guard the guard
   * @param tags more tags for every meter
   * @throws NullPointerException if an argument is null
   */
  public OutboundGuardMetrics(OutboundGuard guard, Iterable<Tag> tags) {
    this.guard = Objects.requireNonNull(guard, "guard");
    this.tags = Tags.of(Objects.requireNonNull(tags, "tags")).and("name", guard.name());
  }

  /**
   * Registers the meters and starts counting.
   *
   * @param registry the registry
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    Timer success = calls(registry, "success");
    Timer failure = calls(registry, "failure");
    Counter attempts = Counter.builder("sluice.guard.attempts")
        .description("Runs of the guarded work").tags(tags).register(registry);
    Counter retries = Counter.builder("sluice.guard.retries")
        .description("Failed attempts that were retried").tags(tags).register(registry);
    Counter exhausted = Counter.builder("sluice.guard.retry.budget.exhausted")
        .description("Retries denied because the retry budget was spent").tags(tags)
        .register(registry);
    Timer pacing = Timer.builder("sluice.guard.pacing.wait")
        .description("Waits for a pacing turn").tags(tags).register(registry);
    Gauge.builder("sluice.guard.pacing.backlog", guard,
            g -> g.pacingBacklog().toNanos() / 1e9)
        .description("How long a caller arriving now would wait for its pacing turn")
        .baseUnit("seconds").tags(tags).strongReference(true).register(registry);
    guard.addListener(new OutboundGuardListener() {
      @Override
      public void onAttempt(int attempt) {
        attempts.increment();
      }

      @Override
      public void onRetry(int attempt, Duration delay, Throwable thrown) {
        retries.increment();
      }

      @Override
      public void onRetryBudgetExhausted() {
        exhausted.increment();
      }

      @Override
      public void onPacingWait(Duration wait) {
        pacing.record(wait);
      }

      @Override
      public void onSuccess(Duration duration) {
        success.record(duration);
      }

      @Override
      public void onFailure(Duration duration, Throwable thrown) {
        failure.record(duration);
      }

      @Override
      public String toString() {
        return "OutboundGuardMetrics[" + guard.name() + "]";
      }
    });
  }

  private Timer calls(MeterRegistry registry, String outcome) {
    return Timer.builder("sluice.guard.calls")
        .description("Calls through the guard, by outcome")
        .tags(tags).tag("outcome", outcome).register(registry);
  }
}
