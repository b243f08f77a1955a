package dev.sluice.redis;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class FailureLogTest {
  private final AtomicLong now = new AtomicLong(-5_000_000_000L);
  private final List<String> lines = new ArrayList<>();
  private final FailureLog log =
      new FailureLog("store", now::get, Duration.ofSeconds(10).toNanos(), lines::add);

  @Test
  void failed_manyTimesWithinAnInterval_logsTheFirstOnly() {
    for (int i = 0; i < 100; i++) {
      log.failed("failure " + i);
    }

    assertThat(lines).containsExactly("failure 0");
  }

  @Test
  void failed_afterTheInterval_logsAgainCountingTheUnlogged() {
    log.failed("a");
    log.failed("b");
    log.failed("c");
    now.addAndGet(Duration.ofSeconds(10).toNanos() - 1);
    log.failed("d");
    now.addAndGet(1);
    log.failed("e");

    assertThat(lines).containsExactly("a", "e (and 3 more failures since the last report)");
  }

  @Test
  void succeeded_afterFailures_resetsTheCount() {
    log.failed("a");
    log.failed("b");
    log.succeeded();
    now.addAndGet(Duration.ofSeconds(10).toNanos());
    log.failed("c");

    assertThat(lines).containsExactly("a", "c");
  }
}
