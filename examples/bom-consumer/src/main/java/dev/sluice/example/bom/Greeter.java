package dev.sluice.example.bom;

import dev.sluice.NanoClock;
import dev.sluice.RateLimiter;
import java.time.Duration;

/** A user's class: three greetings per minute per name, on an injected clock. */
public final class Greeter {
  private final RateLimiter<String> limiter;

  /**
   * A greeter on {@code clock}.
   *
   * @param clock the clock the limit reads
   */
  public Greeter(NanoClock clock) {
    this.limiter = RateLimiter.builder().name("greet").limit(3, Duration.ofMinutes(1))
        .clock(clock).build();
  }

  /**
   * Greets {@code name}, or says to wait.
   *
   * @param name who
   * @return the greeting, or how long to wait
   */
  public String greet(String name) {
    var decision = limiter.tryAcquire(name);
    return decision.allowed() ? "hello " + name : "wait " + decision.retryAfter().toSeconds() + " s";
  }
}
