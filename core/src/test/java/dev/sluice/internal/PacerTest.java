package dev.sluice.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.TickingClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The pacer decides each reservation on one clock read, so a moving clock changes nothing. */
class PacerTest {
  private static final long SECOND = Duration.ofSeconds(1).toNanos();

  @Test
  void firstCall_startsAtOnce_andLaterOnesWaitTheirTurn_onATickingClock() {
    TickingClock ticking = new TickingClock(1);
    Pacer pacer = new Pacer(SECOND, ticking);
    long first = ticking.peek();
    assertThat(pacer.reserve(0)).isZero();
    // One tick later: the next slot starts one interval after the first call's read.
    assertThat(pacer.reserve(SECOND)).isEqualTo(SECOND - 1);
    long now = ticking.peek();
    assertThat(pacer.reserve(SECOND)).isEqualTo(-(first + 2 * SECOND - now));
    assertThat(pacer.backlogNanos()).isEqualTo(first + 2 * SECOND - (now + 1));
  }

  @Test
  void idlePacer_neverOwesTime_whateverTheTicks() {
    TickingClock ticking = new TickingClock(1_000);
    Pacer pacer = new Pacer(SECOND, ticking);
    for (int i = 0; i < 1_000; i++) {
      ticking.advance(Duration.ofSeconds(1));
      assertThat(pacer.reserve(0)).as("call %d", i).isZero();
    }
  }
}
