package dev.sluice.example.bom;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sluice.testing.ManualClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class GreeterTest {

  @Test
  void fourthGreetingWithinAMinute_isRefused_untilOneEmissionIntervalPassed() {
    ManualClock clock = new ManualClock();
    Greeter greeter = new Greeter(clock);
    for (int i = 0; i < 3; i++) {
      assertEquals("hello ann", greeter.greet("ann"));
    }
    assertEquals("wait 20 s", greeter.greet("ann"));
    clock.advance(Duration.ofSeconds(20));
    assertEquals("hello ann", greeter.greet("ann"));
  }
}
