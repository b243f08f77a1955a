package dev.sluice.micrometer;

import dev.sluice.QueueListener;
import dev.sluice.QueueRejectedException;
import dev.sluice.RequestQueue;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;

/**
 * Meters for a {@link RequestQueue}:
 * <ul>
 *   <li>{@code sluice.queue.active} (gauge) {@code {name}}: permits held now;
 *   <li>{@code sluice.queue.waiting} (gauge) {@code {name, priority}}: attempts waiting now, per
 *       priority class;
 *   <li>{@code sluice.queue.limit} (gauge) {@code {name}}: the global cap now (the adaptive
 *       limit's value when adaptive);
 *   <li>{@code sluice.queue.wait} (timer, with a percentile histogram for
 *       {@code histogram_quantile}) {@code {name, outcome=admitted|timed_out|cancelled}}: how long
 *       attempts waited, zero for those admitted at once;
 *   <li>{@code sluice.queue.rejected} (counter)
 *       {@code {name, reason=queue_full|timed_out|drained|shut_down}};
 *   <li>{@code sluice.queue.held} (timer) {@code {name}}: how long admitted permits were held.
 * </ul>
 * Keys are never tags.
 *
 * <pre>{@code
 * new RequestQueueMetrics(queue).bindTo(registry);
 * // histogram_quantile(0.99, sum by (le) (rate(sluice_queue_wait_seconds_bucket[5m])))
 * }</pre>
 *
 * <p>The gauges read {@link RequestQueue#stats()} when scraped (one short lock per gauge).
 * {@link #bindTo} adds a listener to the queue; bind once per registry. Thread-safe.
 */
public final class RequestQueueMetrics implements MeterBinder {
  private final RequestQueue<?> queue;
  private final Tags tags;

  /**
   * Meters for a queue, tagged with its name.
   *
   * @param queue the queue
   * @throws NullPointerException if {@code queue} is null
   */
  public RequestQueueMetrics(RequestQueue<?> queue) {
    this(queue, Tags.empty());
  }

  /**
   * Meters for a queue, tagged with its name and {@code tags}.
   *
   * @param queue the queue
   * @param tags more tags for every meter
   * @throws NullPointerException if an argument is null
   */
  public RequestQueueMetrics(RequestQueue<?> queue, Iterable<Tag> tags) {
    this.queue = Objects.requireNonNull(queue, "queue");
    this.tags = Tags.of(Objects.requireNonNull(tags, "tags")).and("name", queue.name());
  }

  /**
   * Registers the meters and starts counting.
   *
   * @param registry the registry
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    Gauge.builder("sluice.queue.active", queue, q -> q.stats().active())
        .description("Permits held now").tags(tags).strongReference(true).register(registry);
    Gauge.builder("sluice.queue.limit", queue, RequestQueue::maxConcurrent)
        .description("The global cap on permits now").tags(tags).strongReference(true)
        .register(registry);
    for (String priority : queue.priorities()) {
      Gauge.builder("sluice.queue.waiting", queue,
              q -> q.stats().queuedByPriority().getOrDefault(priority, 0))
          .description("Attempts waiting now, per priority class")
          .tags(tags).tag("priority", priority).strongReference(true).register(registry);
    }
    Timer admitted = wait(registry, "admitted");
    Timer timedOut = wait(registry, "timed_out");
    Timer cancelled = wait(registry, "cancelled");
    Timer held = Timer.builder("sluice.queue.held")
        .description("How long admitted permits were held").tags(tags).register(registry);
    Map<QueueRejectedException.Reason, Counter> rejected =
        new EnumMap<>(QueueRejectedException.Reason.class);
    for (QueueRejectedException.Reason reason : QueueRejectedException.Reason.values()) {
      rejected.put(reason, Counter.builder("sluice.queue.rejected")
          .description("Attempts refused or given up, by reason")
          .tags(tags).tag("reason", CircuitBreakerMetrics.tagValue(reason)).register(registry));
    }
    Counter timedOutCount = rejected.get(QueueRejectedException.Reason.TIMED_OUT);
    queue.addListener(new QueueListener<Object>() {
      @Override
      public void onAdmitted(Object key, String priority, Duration waited) {
        admitted.record(waited);
      }

      @Override
      public void onRejected(Object key, String priority, QueueRejectedException.Reason reason) {
        rejected.get(reason).increment();
      }

      @Override
      public void onTimedOut(Object key, String priority, Duration waited) {
        timedOut.record(waited);
        timedOutCount.increment();
      }

      @Override
      public void onCancelled(Object key, String priority, Duration waited) {
        cancelled.record(waited);
      }

      @Override
      public void onReleased(Object key, String priority, Duration heldFor) {
        held.record(heldFor);
      }

      @Override
      public String toString() {
        return "RequestQueueMetrics[" + queue.name() + "]";
      }
    });
  }

  private Timer wait(MeterRegistry registry, String outcome) {
    return Timer.builder("sluice.queue.wait")
        .description("How long attempts waited for a permit, by outcome")
        .tags(tags).tag("outcome", outcome).publishPercentileHistogram()
        .register(registry);
  }
}
