package dev.sluice.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ManualClockTest {

  @Test
  void nanoTime_startsAtTheDefaultNegativeOrigin_andStaysUntilAdvanced() {
    ManualClock clock = new ManualClock();
    assertThat(clock.nanoTime()).isEqualTo(ManualClock.DEFAULT_ORIGIN).isNegative();
    assertThat(clock.nanoTime()).isEqualTo(ManualClock.DEFAULT_ORIGIN);
    assertThat(clock.reads()).isEqualTo(2);
  }

  @Test
  void advance_movesTheTimeByExactlyTheDuration() {
    ManualClock clock = ManualClock.startingAt(100);
    clock.advance(Duration.ofMillis(3));
    clock.advanceNanos(7);
    assertThat(clock.nanoTime()).isEqualTo(100 + 3_000_000 + 7);
  }

  @Test
  void advance_negative_isRefusedNamingTheValue() {
    ManualClock clock = new ManualClock();
    assertThatThrownBy(() -> clock.advance(Duration.ofNanos(-1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT-0.000000001S");
    assertThatThrownBy(() -> clock.advanceNanos(-5))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-5");
    assertThat(clock.peek()).isEqualTo(ManualClock.DEFAULT_ORIGIN);
  }

  @Test
  void ticking_eachReadReturnsTheTimeThenMovesItByTheTick() {
    ManualClock clock = ManualClock.ticking(10);
    long first = clock.nanoTime();
    long second = clock.nanoTime();
    assertThat(second - first).isEqualTo(10);
    assertThat(clock.peek()).isEqualTo(second + 10);
    assertThat(clock.peek()).as("peek neither ticks nor counts").isEqualTo(second + 10);
    assertThat(clock.reads()).isEqualTo(2);
    clock.advance(Duration.ofNanos(5));
    assertThat(clock.nanoTime()).isEqualTo(second + 15);
  }

  @Test
  void ticking_tickBelowOne_isRefusedNamingTheValue() {
    assertThatThrownBy(() -> ManualClock.ticking(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("tickNanos must be >= 1 but was 0");
  }

  @Test
  void ticking_concurrentReaders_neverSeeTheSameTime() throws Exception {
    ManualClock clock = ManualClock.ticking(1);
    var seen = Concurrently.call(4, i -> {
      long[] mine = new long[1_000];
      for (int k = 0; k < mine.length; k++) {
        mine[k] = clock.nanoTime();
      }
      return mine;
    });
    assertThat(seen.stream().flatMapToLong(java.util.Arrays::stream).distinct().count())
        .isEqualTo(4_000);
    assertThat(clock.reads()).isEqualTo(4_000);
  }
}
