package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class StoreHealthTest {

  @Test
  void rateLimitStore_scoresByFailuresInARow() {
    AtomicReference<StoreStats> stats = new AtomicReference<>(new StoreStats("redis:ip", 10, 4, 0));
    HealthContributor health = HealthContributors.rateLimitStore("redis:ip", stats::get);

    ComponentHealth answering = health.check();
    assertThat(answering.name()).isEqualTo("store:redis:ip");
    assertThat(answering.score()).isEqualTo(100);
    assertThat(answering.recommendations()).isEmpty();
    assertThat(answering.figures()).containsEntry("calls", 10L).containsEntry("failures", 4L)
        .containsEntry("consecutiveFailures", 0L).containsEntry("failing", false);

    stats.set(new StoreStats("redis:ip", 12, 6, 2));
    assertThat(health.check().score()).isEqualTo(HealthContributors.HALF_OPEN_SCORE);

    stats.set(new StoreStats("redis:ip", 13, 7, 3));
    ComponentHealth down = health.check();
    assertThat(down.score()).isEqualTo(HealthContributors.OPEN_SCORE);
    assertThat(down.status()).isEqualTo(HealthStatus.UNHEALTHY);
    assertThat(down.recommendations()).singleElement().asString()
        .contains("'redis:ip' failed its last 3 calls");
  }

  @Test
  void rateLimitStore_localStore_isRefusedAtCreation() {
    RateLimitStore<String> local = (key, increment, tolerance) ->
        new RateLimitStore.Outcome(true, increment, 0);
    assertThatThrownBy(() -> HealthContributors.rateLimitStore(local))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("keeps no stats");
  }

  @Test
  void storeStats_negativeCount_isRefused() {
    assertThatThrownBy(() -> new StoreStats("s", -1, 0, 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("calls=-1");
  }
}
