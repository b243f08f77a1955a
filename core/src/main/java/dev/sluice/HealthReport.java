package dev.sluice;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A {@link HealthMonitor}'s answer: an overall 0–100 score and status, every component's figures,
 * and the recommendations of all components, most urgent first. See {@link HealthMonitor} for the
 * formula.
 *
 * <p>Immutable and thread-safe.
 *
 * @param score the overall score, 0–100
 * @param status the status of the score
 * @param components each component's health, in registration order
 * @param recommendations every component's recommendations, worst component first
 */
public record HealthReport(
    int score, HealthStatus status, List<ComponentHealth> components,
    List<String> recommendations) {

  /**
   * Validates and copies.
   *
   * @param score the overall score, 0–100
   * @param status the status of the score
   * @param components each component's health
   * @param recommendations all recommendations, worst component first
   * @throws NullPointerException if an argument or element is null
   * @throws IllegalArgumentException if the score is out of range or does not match the status
   */
  public HealthReport {
    Objects.requireNonNull(status, "status");
    if (HealthStatus.of(score) != status) {
      throw new IllegalArgumentException("status " + status + " does not match score " + score);
    }
    components = List.copyOf(components);
    recommendations = List.copyOf(recommendations);
  }

  /**
   * Finds a component by name.
   *
   * @param name the component's name
   * @return the component, if reported
   */
  public Optional<ComponentHealth> component(String name) {
    return components.stream().filter(c -> c.name().equals(name)).findFirst();
  }
}
