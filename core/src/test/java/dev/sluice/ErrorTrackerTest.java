package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ErrorTrackerTest {
  private final ManualClock clock = new ManualClock();
  private final ErrorTracker tracker = ErrorTracker.builder()
      .window(Duration.ofSeconds(60)).buckets(6).maxComponents(3).clock(clock).build();

  @Test
  void stats_countSuccessesAndFailuresPerComponent() {
    for (int i = 0; i < 93; i++) {
      tracker.recordSuccess("pubmed");
    }
    for (int i = 0; i < 7; i++) {
      tracker.recordFailure("pubmed");
    }
    tracker.recordFailure("db");
    ErrorStats pubmed = tracker.stats("pubmed");
    assertThat(pubmed.calls()).isEqualTo(100);
    assertThat(pubmed.failures()).isEqualTo(7);
    assertThat(pubmed.errorRate()).isEqualTo(0.07);
    assertThat(tracker.stats("db").errorRate()).isEqualTo(1.0);
    assertThat(tracker.stats("never-seen")).isEqualTo(new ErrorStats("never-seen", 0, 0));
    assertThat(tracker.snapshot()).containsOnlyKeys("db", "pubmed");
  }

  @Test
  void window_slides_oldOutcomesAreForgottenBucketByBucket() {
    tracker.recordFailure("pubmed");
    clock.advance(Duration.ofSeconds(30));
    tracker.recordSuccess("pubmed");
    clock.advance(Duration.ofSeconds(29));
    assertThat(tracker.stats("pubmed").calls()).isEqualTo(2);
    clock.advance(Duration.ofSeconds(1));
    assertThat(tracker.stats("pubmed")).isEqualTo(new ErrorStats("pubmed", 1, 0));
    clock.advance(Duration.ofSeconds(30));
    assertThat(tracker.stats("pubmed").calls()).isZero();
  }

  @Test
  void components_areBounded_extraOnesCountUnderOverflow() {
    tracker.recordFailure("a");
    tracker.recordFailure("b");
    tracker.recordFailure("c");
    tracker.recordFailure("d");
    tracker.recordFailure("e");
    assertThat(tracker.snapshot()).containsOnlyKeys("a", "b", "c", ErrorTracker.OVERFLOW_COMPONENT);
    assertThat(tracker.stats(ErrorTracker.OVERFLOW_COMPONENT).failures()).isEqualTo(2);
  }

  @Test
  void builder_rejectsBadArguments() {
    assertThatThrownBy(() -> ErrorTracker.builder().window(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("window");
    assertThatThrownBy(() -> ErrorTracker.builder().buckets(0)).hasMessageContaining("buckets");
    assertThatThrownBy(() -> ErrorTracker.builder().maxComponents(0))
        .hasMessageContaining("maxComponents");
  }
}
