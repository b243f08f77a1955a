package dev.sluice;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * A {@link HealthContributor} that times a small call, such as a database ping, with the
 * {@link NanoClock} and scores the latency against a threshold (1000 ms by default, the original
 * system's target) with {@link HealthContributors#score(double, double)}. A ping that throws
 * scores 0.
 *
 * <pre>{@code
 * LatencyProbe db = LatencyProbe.of("db", () -> jdbi.withHandle(h -> h.execute("SELECT 1")));
 * }</pre>
 *
 * <p>Thread-safe if the ping is. The ping runs on the thread asking for the report and is not
 * interrupted: give it its own timeout (a JDBC query timeout, for example).
 */
public final class LatencyProbe implements HealthContributor {
  /** The default threshold: 1000 ms. */
  public static final Duration DEFAULT_THRESHOLD = Duration.ofSeconds(1);

  private final String name;
  private final Callable<?> ping;
  private final Duration threshold;
  private final NanoClock clock;

  private LatencyProbe(String name, Callable<?> ping, Duration threshold, NanoClock clock) {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("name must be non-blank but was " + name);
    }
    this.name = name;
    this.ping = Objects.requireNonNull(ping, "ping");
    this.threshold = CircuitBreaker.Builder.requireAtLeastMillis("threshold", threshold);
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * A probe with the default 1000 ms threshold and the system clock.
   *
   * @param name the component's name, such as {@code "db"}
   * @param ping the call to time
   * @return the probe
   * @throws IllegalArgumentException if {@code name} is null or blank
   * @throws NullPointerException if {@code ping} is null
   */
  public static LatencyProbe of(String name, Callable<?> ping) {
    return of(name, ping, DEFAULT_THRESHOLD, NanoClock.system());
  }

  /**
   * A probe with a threshold and a clock.
   *
   * @param name the component's name
   * @param ping the call to time
   * @param threshold the latency target, &gt;= 1 ms
   * @param clock the clock that times the ping
   * @return the probe
   * @throws IllegalArgumentException if {@code name} is blank or {@code threshold} below 1 ms
   * @throws NullPointerException if {@code ping} or {@code clock} is null
   */
  public static LatencyProbe of(String name, Callable<?> ping, Duration threshold,
      NanoClock clock) {
    return new LatencyProbe(name, ping, threshold, clock);
  }

  /**
   * Runs the ping once and scores its latency.
   *
   * @return the component's health: figures {@code latencyMs} and {@code thresholdMs}, or
   *     {@code error} when the ping threw
   */
  @Override
  public ComponentHealth check() {
    Map<String, Object> figures = new LinkedHashMap<>();
    long thresholdMs = threshold.toMillis();
    figures.put("thresholdMs", thresholdMs);
    long start = clock.nanoTime();
    try {
      ping.call();
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      String what = e.getClass().getSimpleName() + ": " + e.getMessage();
      figures.put("error", what);
      return new ComponentHealth(name, 0, figures, List.of(
          "'" + name + "' probe failed (" + what + "): check that it is up and reachable"));
    }
    long micros = (clock.nanoTime() - start) / 1_000;
    double ms = micros / 1000.0;
    figures.put("latencyMs", ms);
    int score = HealthContributors.score(ms, thresholdMs);
    List<String> advice = ms >= HealthContributors.WARN_AT * thresholdMs
        ? List.of(String.format(java.util.Locale.ROOT,
            "'%s' answered in %.0f ms (target < %d ms): check slow queries, the connection pool "
                + "size and the server's load", name, ms, thresholdMs))
        : List.of();
    return new ComponentHealth(name, score, figures, advice);
  }

  /**
   * The component's name.
   *
   * @return the name
   */
  public String name() {
    return name;
  }

  /**
   * The latency target.
   *
   * @return the threshold
   */
  public Duration threshold() {
    return threshold;
  }
}
