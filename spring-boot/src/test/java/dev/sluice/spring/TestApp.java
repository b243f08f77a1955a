package dev.sluice.spring;

import dev.sluice.CircuitBreaker;
import dev.sluice.NanoClock;
import dev.sluice.testing.ManualClock;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** A small application the HTTP tests start on a random port. */
@SpringBootApplication
class TestApp {

  /** Lets a test hold requests inside the handler and release them. */
  static final class Gate {
    volatile CountDownLatch entered = new CountDownLatch(1);
    volatile CountDownLatch release = new CountDownLatch(1);
  }

  @Bean
  Gate gate() {
    return new Gate();
  }

  /** The in-memory limiters' clock: time stands still unless a test moves it. */
  @Bean
  NanoClock clock() {
    return new ManualClock();
  }

  @Bean
  CircuitBreaker downstreamBreaker() {
    return CircuitBreaker.builder().name("downstream").failureThreshold(3).build();
  }

  @RestController
  static class Api {
    private final Gate gate;

    Api(Gate gate) {
      this.gate = gate;
    }

    @GetMapping("/api/limited")
    String limited() {
      return "ok";
    }

    @GetMapping("/api/open")
    String open() {
      return "open";
    }

    @GetMapping("/api/slow")
    String slow() throws InterruptedException {
      gate.entered.countDown();
      if (!gate.release.await(20, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the test never released the gate");
      }
      return "done";
    }
  }
}
