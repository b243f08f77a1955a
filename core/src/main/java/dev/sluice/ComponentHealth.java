package dev.sluice;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One component's part of a {@link HealthReport}: its own 0–100 score, the figures behind it
 * (queue depth, error rate, latency...) and plain-language recommendations.
 *
 * <p>Immutable and thread-safe (the figures' values should be immutable too: numbers, strings).
 *
 * @param name the component's name, such as {@code "queue:chat"} or {@code "db"}
 * @param score the component's score, 0–100
 * @param figures named figures in a stable order, for pages and JSON
 * @param recommendations what an operator should do, empty when nothing
 */
public record ComponentHealth(
    String name, int score, Map<String, Object> figures, List<String> recommendations) {

  /**
   * Validates and copies.
   *
   * @param name the component's name
   * @param score the component's score, 0–100
   * @param figures named figures, copied in order
   * @param recommendations what an operator should do
   * @throws NullPointerException if an argument or element is null
   * @throws IllegalArgumentException if {@code score} is outside [0, 100]
   */
  public ComponentHealth {
    Objects.requireNonNull(name, "name");
    if (score < 0 || score > 100) {
      throw new IllegalArgumentException("score must be in [0, 100] but was " + score);
    }
    LinkedHashMap<String, Object> copy = new LinkedHashMap<>();
    Objects.requireNonNull(figures, "figures").forEach((k, v) ->
        copy.put(Objects.requireNonNull(k, "figure name"), Objects.requireNonNull(v, k)));
    figures = Collections.unmodifiableMap(copy);
    recommendations = List.copyOf(recommendations);
  }

  /**
   * The component's status on its own.
   *
   * @return the status of {@link #score()}
   */
  public HealthStatus status() {
    return HealthStatus.of(score);
  }
}
