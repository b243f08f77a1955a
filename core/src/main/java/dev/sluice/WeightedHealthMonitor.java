package dev.sluice;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The {@link HealthMonitor}: the weighted minimum documented there. */
final class WeightedHealthMonitor implements HealthMonitor {
  private static final Logger LOG = LoggerFactory.getLogger(HealthMonitor.class);

  private final List<HealthContributor> contributors;
  private final double[] weights;

  WeightedHealthMonitor(List<HealthContributor> contributors, List<Double> weights) {
    this.contributors = List.copyOf(contributors);
    this.weights = weights.stream().mapToDouble(Double::doubleValue).toArray();
  }

  @Override
  public HealthReport report() {
    List<ComponentHealth> components = new ArrayList<>(contributors.size());
    double[] effective = new double[contributors.size()];
    double overall = 100;
    for (int i = 0; i < contributors.size(); i++) {
      ComponentHealth c = check(i);
      components.add(c);
      effective[i] = 100 - weights[i] * (100 - c.score());
      overall = Math.min(overall, effective[i]);
    }
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < components.size(); i++) {
      order.add(i);
    }
    order.sort(Comparator.comparingDouble(i -> effective[i]));
    List<String> recommendations = new ArrayList<>();
    for (int i : order) {
      recommendations.addAll(components.get(i).recommendations());
    }
    int score = (int) Math.floor(overall + 1e-9);
    return new HealthReport(score, HealthStatus.of(score), components, recommendations);
  }

  private ComponentHealth check(int i) {
    try {
      ComponentHealth c = contributors.get(i).check();
      if (c == null) {
        throw new IllegalStateException("contributor returned null");
      }
      return c;
    } catch (RuntimeException e) {
      LOG.warn("health contributor #{} failed", i, e);
      String what = e.getClass().getSimpleName() + ": " + e.getMessage();
      return new ComponentHealth("contributor #" + i, 0, Map.of("error", what),
          List.of("health check #" + i + " failed (" + what + "): fix the check or the component"));
    }
  }
}
