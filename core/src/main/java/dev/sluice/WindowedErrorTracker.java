package dev.sluice;

import dev.sluice.internal.SlidingWindow;
import java.time.Duration;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/** The {@link ErrorTracker}: one bucketed window per component, each guarded by its own lock. */
final class WindowedErrorTracker implements ErrorTracker {
  private final Duration window;
  private final int buckets;
  private final int maxComponents;
  private final NanoClock clock;
  private final ConcurrentHashMap<String, SlidingWindow> components = new ConcurrentHashMap<>();

  WindowedErrorTracker(Duration window, int buckets, int maxComponents, NanoClock clock) {
    this.window = window;
    this.buckets = buckets;
    this.maxComponents = maxComponents;
    this.clock = clock;
  }

  @Override
  public void record(String component, boolean success) {
    Objects.requireNonNull(component, "component");
    SlidingWindow w = components.get(component);
    if (w == null) {
      // The bound is approximate under races (a few extra components at most); it exists to stop
      // unbounded growth, not to be exact.
      String key = components.size() >= maxComponents ? OVERFLOW_COMPONENT : component;
      w = components.computeIfAbsent(key, k -> newWindow());
    }
    long now = clock.nanoTime();
    synchronized (w) {
      w.record(now, success);
    }
  }

  private SlidingWindow newWindow() {
    return new SlidingWindow(window.toNanos(), buckets, clock.nanoTime());
  }

  @Override
  public ErrorStats stats(String component) {
    Objects.requireNonNull(component, "component");
    SlidingWindow w = components.get(component);
    if (w == null) {
      return new ErrorStats(component, 0, 0);
    }
    long now = clock.nanoTime();
    long[] totals;
    synchronized (w) {
      totals = w.totals(now);
    }
    return new ErrorStats(component, totals[0], totals[1]);
  }

  @Override
  public Map<String, ErrorStats> snapshot() {
    TreeMap<String, ErrorStats> result = new TreeMap<>();
    for (String component : components.keySet()) {
      result.put(component, stats(component));
    }
    return Collections.unmodifiableMap(result);
  }

  @Override
  public Duration window() {
    return window;
  }

  @Override
  public String toString() {
    return "ErrorTracker[" + components.size() + " components, window " + window + "]";
  }
}
