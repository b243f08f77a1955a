package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.CircuitBreaker.Settings;
import dev.sluice.CircuitBreaker.State;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** {@link CircuitBreaker#reconfigure}: thresholds and durations change live, state is kept. */
class CircuitBreakerReconfigureTest {
  private static final Duration MS = Duration.ofMillis(1);

  private final ManualClock clock = new ManualClock();
  private final List<String> transitions = new CopyOnWriteArrayList<>();

  private CircuitBreaker.Builder builder() {
    return CircuitBreaker.builder().name("down").clock(clock)
        .onStateChange((name, from, to) -> transitions.add(from + "->" + to));
  }

  @Test
  void settings_reportTheBuiltValues_andReconfigureReturnsTheOldOnes() {
    CircuitBreaker breaker = builder().build();
    Settings defaults = new Settings(5, 0, 0, null, Duration.ofSeconds(30), 1);
    assertThat(breaker.settings()).isEqualTo(defaults);

    Settings next = new Settings(3, 0.5, 10, Duration.ofSeconds(2), Duration.ofSeconds(5), 2);
    assertThat(breaker.reconfigure(next)).isEqualTo(defaults);
    assertThat(breaker.settings()).isEqualTo(next);
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
  }

  @Test
  void settings_nameTheBadField() {
    Duration d = Duration.ofSeconds(1);
    assertThatThrownBy(() -> new Settings(0, 0, 0, null, d, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("failureThreshold ");
    assertThatThrownBy(() -> new Settings(1, 1.5, 1, null, d, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("failureRateThreshold ");
    assertThatThrownBy(() -> new Settings(1, -0.1, 1, null, d, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("failureRateThreshold ");
    assertThatThrownBy(() -> new Settings(1, 0.5, 0, null, d, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("minimumCalls ");
    assertThatThrownBy(() -> new Settings(1, 0, 0, Duration.ZERO, d, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("slowCallThreshold ");
    assertThatThrownBy(() -> new Settings(1, 0, 0, null, null, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("openDuration ");
    assertThatThrownBy(() -> new Settings(1, 0, 0, null, d, 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("halfOpenProbes ");
  }

  @Test
  void aLowerFailureThreshold_appliesAtTheNextFailure() {
    CircuitBreaker breaker = builder().failureThreshold(5).build();
    for (int i = 0; i < 3; i++) {
      breaker.recordFailure(MS);
    }
    breaker.reconfigure(breaker.settings().withFailureThreshold(3));
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
    assertThat(breaker.consecutiveFailures()).isEqualTo(3);
    breaker.recordFailure(MS);
    assertThat(breaker.state()).isEqualTo(State.OPEN);
    assertThat(transitions).containsExactly("CLOSED->OPEN");
  }

  @Test
  void anOpenBreaker_usesAShorterOpenDurationAtOnce_fromWhenItOpened() {
    CircuitBreaker breaker = builder().failureThreshold(1).openDuration(Duration.ofSeconds(30))
        .build();
    breaker.recordFailure(MS);
    clock.advance(Duration.ofSeconds(10));
    assertThat(breaker.untilProbe()).isEqualTo(Duration.ofSeconds(20));

    breaker.reconfigure(breaker.settings().withOpenDuration(Duration.ofSeconds(5)));

    assertThat(breaker.state()).isEqualTo(State.HALF_OPEN);
    assertThat(transitions).containsExactly("CLOSED->OPEN", "OPEN->HALF_OPEN");
  }

  @Test
  void anOpenBreaker_staysOpenLonger_whenTheOpenDurationIsLengthened() {
    CircuitBreaker breaker = builder().failureThreshold(1).openDuration(Duration.ofSeconds(30))
        .build();
    breaker.recordFailure(MS);
    breaker.reconfigure(breaker.settings().withOpenDuration(Duration.ofMinutes(1)));
    clock.advance(Duration.ofSeconds(30));
    assertThat(breaker.state()).isEqualTo(State.OPEN);
    assertThat(breaker.untilProbe()).isEqualTo(Duration.ofSeconds(30));
    clock.advance(Duration.ofSeconds(30));
    assertThat(breaker.state()).isEqualTo(State.HALF_OPEN);
  }

  @Test
  void aHalfOpenBreaker_thatAlreadyHasTheFewerProbesNowAskedFor_closes() {
    CircuitBreaker breaker = builder().failureThreshold(1).openDuration(Duration.ofSeconds(1))
        .halfOpenProbes(3).build();
    breaker.recordFailure(MS);
    clock.advance(Duration.ofSeconds(1));
    assertThat(breaker.tryAcquirePermission()).isTrue();
    breaker.recordSuccess(MS);
    assertThat(breaker.state()).isEqualTo(State.HALF_OPEN);

    breaker.reconfigure(breaker.settings().withHalfOpenProbes(1));

    assertThat(breaker.state()).isEqualTo(State.CLOSED);
    assertThat(transitions).containsExactly("CLOSED->OPEN", "OPEN->HALF_OPEN",
        "HALF_OPEN->CLOSED");
  }

  @Test
  void aSlowCallThresholdSetLive_judgesCallsThatBeginAfterIt() throws Exception {
    CircuitBreaker breaker = builder().failureThreshold(1).build();
    // A call that began without a threshold is not timed, so it cannot count as slow.
    breaker.call(() -> {
      breaker.reconfigure(breaker.settings().withSlowCallThreshold(Duration.ofSeconds(1)));
      clock.advance(Duration.ofSeconds(2));
      return null;
    });
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
    breaker.call(() -> {
      clock.advance(Duration.ofSeconds(2));
      return null;
    });
    assertThat(breaker.state()).isEqualTo(State.OPEN);
    // And removed again: a slow success is a success.
    breaker.reset();
    breaker.reconfigure(breaker.settings().withSlowCallThreshold(null));
    breaker.recordSuccess(Duration.ofHours(1));
    assertThat(breaker.state()).isEqualTo(State.CLOSED);
  }

  @Test
  void aRateTriggerSetLive_countsTheCallsAlreadySeen() {
    CircuitBreaker breaker = builder().failureThreshold(100).build();
    breaker.recordSuccess(MS);
    breaker.recordSuccess(MS);
    breaker.recordFailure(MS);

    breaker.reconfigure(new Settings(100, 0.5, 4, null, Duration.ofSeconds(30), 1));

    assertThat(breaker.failureRate()).isEqualTo(1.0 / 3);
    breaker.recordFailure(MS); // 2 of 4
    assertThat(breaker.state()).isEqualTo(State.OPEN);
  }

  @Test
  void outboundGuard_timesCallsOnceABreakerGainsASlowCallThreshold() throws Exception {
    CircuitBreaker breaker = builder().failureThreshold(1).build();
    OutboundGuard guard = OutboundGuard.builder().name("down").circuitBreaker(breaker)
        .clock(clock).build();
    breaker.reconfigure(breaker.settings().withSlowCallThreshold(Duration.ofSeconds(1)));
    guard.call(() -> {
      clock.advance(Duration.ofSeconds(2));
      return "slow";
    });
    assertThat(breaker.state()).isEqualTo(State.OPEN);
  }
}
