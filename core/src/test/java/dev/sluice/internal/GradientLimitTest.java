package dev.sluice.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.AdaptiveLimit;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class GradientLimitTest {
  private static final long MS = 1_000_000L;

  /** Feeds {@code n} samples of {@code rtt} at {@code now}, returning the last limit. */
  private static int feed(GradientLimit g, int n, long rtt, int inflight, long now) {
    int limit = -1;
    for (int i = 0; i < n; i++) {
      limit = g.onSample(now - rtt, rtt, inflight, now);
    }
    return limit;
  }

  @Test
  void latencyWithinTolerance_growsByOnePerWindow_whenTheWindowUsedHalfTheLimit() {
    GradientLimit g = new GradientLimit(AdaptiveLimit.gradient().initial(10).build());
    assertThat(g.initialLimit()).isEqualTo(10);
    // A window needs ten samples and one no-load latency of age.
    assertThat(feed(g, 10, 100 * MS, 10, 0)).isEqualTo(10);
    assertThat(g.onSample(0, 105 * MS, 10, 100 * MS)).isEqualTo(11);
    assertThat(feed(g, 10, 100 * MS, 11, 200 * MS)).isEqualTo(12);
  }

  @Test
  void appLimitedWindow_doesNotGrow() {
    GradientLimit g = new GradientLimit(AdaptiveLimit.gradient().initial(10).build());
    feed(g, 10, 100 * MS, 4, 0);
    assertThat(g.onSample(0, 100 * MS, 4, 100 * MS)).isEqualTo(10);
  }

  @Test
  void latencyPastTolerance_shrinksInProportion_byAtMostHalf_notBelowMin() {
    GradientLimit g = new GradientLimit(AdaptiveLimit.gradient().min(3).initial(20).build());
    feed(g, 10, 100 * MS, 20, 0);
    // Average (10 × 100 + 200) / 11 ms: gradient 1.1 × 100 / 109.09 = 1.008, grows by one.
    assertThat(g.onSample(0, 200 * MS, 20, 100 * MS)).isEqualTo(21);
    // Average 200 ms: gradient 0.55, limit 21 × 0.55 + 1 = 12.55.
    assertThat(feed(g, 10, 200 * MS, 21, 300 * MS)).isEqualTo(12);
    // Average 1 s: the gradient is clamped at 0.5.
    assertThat(feed(g, 10, 1_000 * MS, 12, 1_300 * MS)).isEqualTo(7);
    assertThat(feed(g, 10, 1_000 * MS, 12, 2_300 * MS)).isEqualTo(4);
    assertThat(feed(g, 10, 1_000 * MS, 12, 3_300 * MS)).isEqualTo(3);
    assertThat(feed(g, 10, 1_000 * MS, 12, 4_300 * MS)).isEqualTo(3);
  }

  @Test
  void ceiling_bindsGrowth() {
    GradientLimit g = new GradientLimit(AdaptiveLimit.gradient().initial(5).max(6).build());
    long now = 0;
    int limit = 0;
    for (int w = 0; w < 5; w++) {
      limit = feed(g, 10, 100 * MS, 6, now);
      now += 100 * MS;
    }
    assertThat(limit).isEqualTo(6);
  }

  @Test
  void backendSlowerForGood_isFollowedWithinTwoRttWindows() {
    GradientLimit g = new GradientLimit(AdaptiveLimit.gradient().min(1).initial(20)
        .rttWindow(Duration.ofSeconds(1)).build());
    feed(g, 10, 100 * MS, 20, 0);
    g.onSample(0, 100 * MS, 20, 100 * MS);
    // From now on every request takes 300 ms at any load: at first that reads as overload.
    long now = 500 * MS;
    int limit = feed(g, 10, 300 * MS, 20, now);
    assertThat(limit).isLessThan(21);
    // After two rtt windows the 100 ms minimum is forgotten and the limit grows again.
    int previous = Integer.MAX_VALUE;
    for (now = 600 * MS; now < 2_600 * MS; now += 300 * MS) {
      previous = feed(g, 10, 300 * MS, 30, now);
    }
    int later = feed(g, 10, 300 * MS, 30, now);
    assertThat(later).isEqualTo(previous + 1);
  }
}
