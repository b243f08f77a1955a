package dev.sluice;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Counts successes and failures per component (a downstream service, the database, a route) over a
 * sliding time window, and reports error rates for health checks.
 *
 * <p><b>Memory.</b> Each component keeps a fixed ring of {@link Builder#buckets(int)} counters,
 * however busy it is; the window slides one bucket at a time. At most
 * {@link Builder#maxComponents(int)} components are tracked; outcomes of further components are
 * counted under {@value #OVERFLOW_COMPONENT}, so memory stays bounded even if component names come
 * from untrusted input.
 *
 * <pre>{@code
 * ErrorTracker errors = ErrorTracker.builder().window(Duration.ofMinutes(5)).build();
 * try {
 *   pubmed.search(q);
 *   errors.recordSuccess("pubmed");
 * } catch (IOException e) {
 *   errors.recordFailure("pubmed");
 * }
 * double rate = errors.stats("pubmed").errorRate();
 * }</pre>
 *
 * <p><b>Thread safety.</b> Instances are thread-safe.
 */
public interface ErrorTracker {

  /** The component that collects outcomes once {@link Builder#maxComponents(int)} is reached. */
  String OVERFLOW_COMPONENT = "(other)";

  /**
   * Counts a success.
   *
   * @param component the component
   * @throws NullPointerException if {@code component} is null
   */
  default void recordSuccess(String component) {
    record(component, true);
  }

  /**
   * Counts a failure.
   *
   * @param component the component
   * @throws NullPointerException if {@code component} is null
   */
  default void recordFailure(String component) {
    record(component, false);
  }

  /**
   * Counts an outcome.
   *
   * @param component the component
   * @param success whether the operation succeeded
   * @throws NullPointerException if {@code component} is null
   */
  void record(String component, boolean success);

  /**
   * One component's counts over the window.
   *
   * @param component the component
   * @return its counts, zero for a component never seen
   * @throws NullPointerException if {@code component} is null
   */
  ErrorStats stats(String component);

  /**
   * Every tracked component's counts over the window.
   *
   * @return counts by component name, sorted by name
   */
  Map<String, ErrorStats> snapshot();

  /**
   * The window length.
   *
   * @return the window
   */
  Duration window();

  /**
   * Starts a builder.
   *
   * @return a builder with defaults: a 1-minute window in 12 buckets, at most 1,000 components,
   *     the system clock
   */
  static Builder builder() {
    return new Builder();
  }

  /**
   * Builds {@link ErrorTracker}s. Setters validate at once.
   *
   * <p>Not thread-safe.
   */
  final class Builder {
    Duration window = Duration.ofMinutes(1);
    int buckets = 12;
    int maxComponents = 1_000;
    NanoClock clock = NanoClock.system();

    Builder() {}

    /**
     * Sets the window length.
     *
     * @param window the window, &gt;= 1 ms
     * @return this builder
     * @throws IllegalArgumentException if {@code window} is null or below 1 ms
     */
    public Builder window(Duration window) {
      this.window = CircuitBreaker.Builder.requireAtLeastMillis("window", window);
      return this;
    }

    /**
     * Sets how many steps the window slides in; more buckets forget old outcomes more smoothly.
     *
     * @param buckets buckets per window, 1 to 1,000
     * @return this builder
     * @throws IllegalArgumentException if {@code buckets} is out of range
     */
    public Builder buckets(int buckets) {
      if (buckets < 1 || buckets > 1_000) {
        throw new IllegalArgumentException("buckets must be in [1, 1000] but was " + buckets);
      }
      this.buckets = buckets;
      return this;
    }

    /**
     * Bounds the number of components tracked.
     *
     * @param maxComponents the bound, &gt;= 1
     * @return this builder
     * @throws IllegalArgumentException if {@code maxComponents} &lt; 1
     */
    public Builder maxComponents(int maxComponents) {
      if (maxComponents < 1) {
        throw new IllegalArgumentException("maxComponents must be >= 1 but was " + maxComponents);
      }
      this.maxComponents = maxComponents;
      return this;
    }

    /**
     * Sets the clock (tests pass a fake one).
     *
     * @param clock a monotonic clock
     * @return this builder
     * @throws NullPointerException if {@code clock} is null
     */
    public Builder clock(NanoClock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Builds the tracker.
     *
     * @return a new tracker
     */
    public ErrorTracker build() {
      return new WindowedErrorTracker(window, buckets, maxComponents, clock);
    }
  }
}
